package scan

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
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
	// LoginFields are the JSON body fields sent to LoginOp.
	LoginFields map[string]string

	mu    sync.Mutex
	token string
	auth  http.Header // from the last login
}

// NewHeaderIdentity returns an identity that sends h with every request.
func NewHeaderIdentity(name string, h http.Header) *Identity {
	id := &Identity{Name: name, static: h.Clone(), Privileged: strings.HasPrefix(strings.ToLower(name), "admin")}
	if tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		id.token = strings.TrimSpace(tok)
	}
	return id
}

// NewLoginIdentity returns an identity that logs in through operation opID
// with the given body fields.
func NewLoginIdentity(name, opID string, fields map[string]string) *Identity {
	return &Identity{Name: name, LoginOp: opID, LoginFields: fields, Privileged: strings.HasPrefix(strings.ToLower(name), "admin")}
}

// ParseIdentity parses a --identity flag value:
//
//	NAME=header:Authorization: Bearer eyJ...
//	NAME=bearer:eyJ...
//	NAME=login:<operationId>:user=alice,password=secret
func ParseIdentity(s string) (*Identity, error) {
	name, rest, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return nil, fmt.Errorf("identity %q: want NAME=header:K: V, NAME=bearer:TOKEN or NAME=login:OPERATION:k=v[,k=v]", redactArg(s))
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
	case "login":
		op, kv, _ := strings.Cut(arg, ":")
		if op == "" {
			return nil, fmt.Errorf("identity %q: login form is NAME=login:OPERATION:k=v[,k=v]", name)
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
		return NewLoginIdentity(name, op, fields), nil
	}
	return nil, fmt.Errorf("identity %q: unknown kind %q (want header, bearer or login)", name, kind)
}

func redactArg(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// Apply adds the identity's credentials to h.
func (i *Identity) Apply(h http.Header) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for k, vs := range i.static {
		h[k] = append([]string(nil), vs...)
	}
	for k, vs := range i.auth {
		h[k] = append([]string(nil), vs...)
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
	defer i.mu.Unlock()
	i.token = tok
	i.auth = http.Header{"Authorization": {"Bearer " + tok}}
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
