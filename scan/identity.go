package scan

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Identity is one caller the scanner acts as: static headers, or a login
// operation of the spec plus credentials (the token is taken from the login
// response and refreshed on demand). It is safe for concurrent use.
type Identity struct {
	// Name labels the identity in findings ("alice").
	Name string
	// Privileged marks an administrator: BFLA checks compare what it can do
	// with what the other identities can do. Names starting with "admin" are
	// privileged by default.
	Privileged bool

	static http.Header
	// LoginOp is the operationId of the login operation ("" for static identities).
	LoginOp string
	// LoginFields are the JSON body fields sent to LoginOp (form fields
	// when the operation takes only a form).
	LoginFields map[string]string
	// Session marks a cookie-session identity: the login's answer is
	// carried by the session cookies it sets (and a CSRF token where the
	// API uses one), not by a bearer token.
	Session bool
	// CSRFHeader is the header a session identity echoes its CSRF token in
	// ("" = by the token's source: X-XSRF-TOKEN for an XSRF-TOKEN cookie,
	// X-CSRFToken for csrftoken, else X-CSRF-Token).
	CSRFHeader string

	mu    sync.Mutex
	token string
	auth  http.Header // from the last login
	self  []string    // values that name this identity (see Learn)
}

// NewHeaderIdentity returns an identity that sends h with every request.
func NewHeaderIdentity(name string, h http.Header) *Identity {
	id := &Identity{Name: name, static: h.Clone(), Privileged: strings.HasPrefix(strings.ToLower(name), "admin")}
	if tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		id.token = strings.TrimSpace(tok)
		id.learnToken(id.token)
	}
	return id
}

// NewLoginIdentity returns an identity that logs in through operation opID
// with the given body fields.
func NewLoginIdentity(name, opID string, fields map[string]string) *Identity {
	id := &Identity{Name: name, LoginOp: opID, LoginFields: fields, Privileged: strings.HasPrefix(strings.ToLower(name), "admin")}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !secretName(k) {
			id.Learn(fields[k])
		}
	}
	return id
}

// NewCookieIdentity returns a cookie-session identity: it logs in through
// operation opID with the given fields and sends the session cookies the
// answer sets, with the CSRF token echoed in a header when the API hands
// one out (a cookie named like csrf/xsrf, or a csrf field of the login's
// answer).
func NewCookieIdentity(name, opID string, fields map[string]string) *Identity {
	id := NewLoginIdentity(name, opID, fields)
	id.Session = true
	return id
}

// secretName reports whether a field name holds a credential (its value
// never identifies the caller and must never be echoed or changed).
func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "secret", "token", "apikey", "api_key", "private", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	switch k {
	case "otp", "pin", "code", "mfa", "totp", "key":
		return true
	}
	return false
}

// SecretName reports whether a body field named k carries a credential
// (password, secret, token, API key, one-time code): checks never put
// payloads or markers there for the scan's own identities.
func SecretName(k string) bool { return secretName(k) }

// fileLikeRe: names of inputs that carry a file name or path.
var fileLikeRe = regexp.MustCompile(`(?i)^(file|files|path|filepath|file_?name|filename|template|tpl|doc|document|page|include|attachment|download)$|(file|path|template)s?$`)

// FileLikeName reports whether an input named name likely carries a file
// name or path: file, path, filename, template, *_path... For a body
// field's path ("options.template", "files[0]", "a/b") the last key
// counts. The scanner's path-traversal check (GH2055) probes such inputs,
// and gatehouse init marks them x-gatehouse-path so the gateway checks
// them.
func FileLikeName(name string) bool {
	if i := strings.LastIndexAny(name, "./"); i >= 0 {
		name = name[i+1:]
	}
	for strings.HasSuffix(name, "[0]") {
		name = strings.TrimSuffix(name, "[0]")
	}
	return fileLikeRe.MatchString(name)
}

// Learn records v as one of the identity's own values: something that
// names it (its username, e-mail, user ID, a "me" answer's id). A path,
// query or body parameter of any name whose value is one of them
// addresses this identity. Empty values and values over 128 bytes are
// ignored.
func (i *Identity) Learn(v string) {
	v = strings.TrimSpace(v)
	if i == nil || v == "" || len(v) > 128 {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, x := range i.self {
		if x == v {
			return
		}
	}
	if len(i.self) < 32 {
		i.self = append(i.self, v)
	}
}

// Self returns the identity's own values, in the order they were learned
// (login fields first, then token claims, then "me" answers).
func (i *Identity) Self() []string {
	if i == nil {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.self...)
}

// IsSelf reports whether v is one of the identity's own values (e-mails
// compare case-insensitively).
func (i *Identity) IsSelf(v string) bool {
	for _, x := range i.Self() {
		if x == v || strings.Contains(x, "@") && strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// selfClaims are the JWT claims that name the subject. Any other claim
// ending in "_id"/"Id" counts too; roles, scopes and times never do.
var selfClaims = map[string]bool{"sub": true, "email": true, "name": true, "preferred_username": true,
	"username": true, "user": true, "login": true, "uid": true, "id": true, "user_id": true, "userid": true,
	"account": true, "nickname": true, "upn": true, "handle": true, "identity": true, "unique_name": true}

// ClaimValues returns the values of the claims of j that name its subject
// (sub, email, name, username, uid, custom "*_id" claims...), so tokens
// without sub still identify their holder.
func ClaimValues(j *JWT) []string {
	if j == nil {
		return nil
	}
	keys := make([]string, 0, len(j.Claims))
	for k := range j.Claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	add := func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			if x == float64(int64(x)) {
				out = append(out, strconv.FormatInt(int64(x), 10))
			}
		case json.Number:
			out = append(out, x.String())
		}
	}
	if s, ok := j.Claims["sub"]; ok {
		add(s)
	}
	for _, k := range keys {
		lk := strings.ToLower(k)
		if k == "sub" || strings.HasPrefix(lk, "iat") || lk == "jti" || lk == "sid" {
			continue
		}
		if selfClaims[lk] || strings.HasSuffix(lk, "_id") || strings.HasSuffix(k, "Id") {
			add(j.Claims[k])
		}
	}
	return out
}

func (i *Identity) learnToken(tok string) {
	if j, ok := ParseJWT(tok); ok {
		for _, v := range ClaimValues(j) {
			i.Learn(v)
		}
	}
}

// ParseIdentity parses a --identity flag value:
//
//	NAME=header:Authorization: Bearer eyJ...
//	NAME=bearer:eyJ...
//	NAME=login:<operationId>:user=alice,password=secret
//	NAME=cookie:<operationId>:user=alice,password=secret   (session cookie)
func ParseIdentity(s string) (*Identity, error) {
	name, rest, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return nil, fmt.Errorf("identity %q: want NAME=header:K: V, NAME=bearer:TOKEN, NAME=login:OPERATION:k=v[,k=v] or NAME=cookie:OPERATION:k=v[,k=v]", redactArg(s))
	}
	kind, arg, _ := strings.Cut(rest, ":")
	switch kind {
	case "header":
		k, v, ok := strings.Cut(arg, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("identity %q: header form is NAME=header:Name: value", name)
		}
		h := http.Header{}
		h.Set(textproto.TrimString(k), strings.TrimSpace(v))
		return NewHeaderIdentity(name, h), nil
	case "bearer":
		h := http.Header{}
		h.Set("Authorization", "Bearer "+strings.TrimSpace(arg))
		return NewHeaderIdentity(name, h), nil
	case "login", "cookie":
		op, kv, _ := strings.Cut(arg, ":")
		if op == "" {
			return nil, fmt.Errorf("identity %q: %s form is NAME=%s:OPERATION:k=v[,k=v]", name, kind, kind)
		}
		fields := map[string]string{}
		for _, p := range strings.Split(kv, ",") {
			if p == "" {
				continue
			}
			k, v, ok := strings.Cut(p, "=")
			if !ok {
				return nil, fmt.Errorf("identity %q: login field %q is not k=v", name, redactArg(p))
			}
			fields[strings.TrimSpace(k)] = v
		}
		if kind == "cookie" {
			return NewCookieIdentity(name, op, fields), nil
		}
		return NewLoginIdentity(name, op, fields), nil
	}
	return nil, fmt.Errorf("identity %q: unknown kind %q (want header, bearer, login or cookie)", name, kind)
}

func redactArg(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// Apply adds the identity's credentials to h. Its cookies join the
// cookies h already carries (a probe's cookie parameter) in one Cookie
// header; every other credential header replaces h's.
func (i *Identity) Apply(h http.Header) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, src := range []http.Header{i.static, i.auth} {
		for k, vs := range src {
			if k == "Cookie" && h.Get("Cookie") != "" {
				h["Cookie"] = []string{strings.Join(append(h.Values("Cookie"), vs...), "; ")}
				continue
			}
			h[k] = append([]string(nil), vs...)
		}
	}
}

// Token returns the bearer token the identity currently sends ("" if none).
func (i *Identity) Token() string {
	if i == nil {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.token
}

func (i *Identity) setToken(tok string) {
	i.mu.Lock()
	i.token = tok
	i.auth = http.Header{"Authorization": {"Bearer " + tok}}
	i.mu.Unlock()
	i.learnToken(tok)
}

// CanLogin reports whether the identity can obtain fresh tokens.
func (i *Identity) CanLogin() bool { return i != nil && i.LoginOp != "" }

// JWT is a decoded (unverified) JSON Web Token.
type JWT struct {
	Raw    string
	Parts  [3]string
	Header map[string]any
	Claims map[string]any
}

// Alg returns the header's alg.
func (j *JWT) Alg() string { s, _ := j.Header["alg"].(string); return s }

// ParseJWT decodes a compact JWS without verifying it.
func ParseJWT(tok string) (*JWT, bool) {
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		return nil, false
	}
	j := &JWT{Raw: tok, Parts: [3]string{p[0], p[1], p[2]}}
	hb, err := base64.RawURLEncoding.DecodeString(p[0])
	if err != nil || json.Unmarshal(hb, &j.Header) != nil || j.Header == nil {
		return nil, false
	}
	cb, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil || json.Unmarshal(cb, &j.Claims) != nil || j.Claims == nil {
		return nil, false
	}
	return j, true
}

// B64 encodes v as JSON in unpadded base64url (a JWT segment).
func B64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
