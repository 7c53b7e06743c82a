package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
)

// Target is the API under test: its spec, base URL, identities, the Client
// every request goes through, the IDs harvested so far and the baseline
// responses of the crawl. It is safe for concurrent use by checks.
type Target struct {
	Spec       *openapi.Spec
	Base       *url.URL
	Identities []*Identity
	Client     *Client
	Store      *Store
	Log        *slog.Logger

	// Now is the clock used to decide when a login token needs refreshing
	// (nil = time.Now).
	Now func() time.Time

	gen gen

	mu        sync.Mutex
	baselines map[string]*Exchange // op ID + "\x00" + identity → exchange

	created createdLog // objects the scan created, for the cleanup
}

// NewTarget returns a Target. base is the API root URL (paths of the spec
// are appended to it). log may be nil.
func NewTarget(spec *openapi.Spec, base string, ids []*Identity, c *Client, log *slog.Logger) (*Target, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http(s) URL such as http://127.0.0.1:5000", base)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c == nil {
		c = NewClient(ClientOptions{})
	}
	t := &Target{Spec: spec, Base: u, Identities: ids, Client: c, Store: NewStore(), Log: log,
		baselines: map[string]*Exchange{}}
	t.Store.ownerOf = t.ownerOf
	return t, nil
}

// ownerOf returns the name of the one identity whose own values include v
// ("" when none or several do).
func (t *Target) ownerOf(v string) string {
	owner := ""
	for _, id := range t.Identities {
		if id.IsSelf(v) {
			if owner != "" {
				return ""
			}
			owner = id.Name
		}
	}
	return owner
}

// Operation returns the operation with the given ID, or nil.
func (t *Target) Operation(id string) *openapi.Operation {
	for _, op := range t.Spec.Operations {
		if op.ID == id {
			return op
		}
	}
	return nil
}

// Users returns the non-privileged identities, Admins the privileged ones.
func (t *Target) Users() []*Identity  { return t.filter(false) }
func (t *Target) Admins() []*Identity { return t.filter(true) }

func (t *Target) filter(priv bool) []*Identity {
	var out []*Identity
	for _, id := range t.Identities {
		if id.Privileged == priv {
			out = append(out, id)
		}
	}
	return out
}

// URL returns the absolute URL of path (which starts with "/").
func (t *Target) URL(path string) string { return t.Base.String() + path }

// Prepared is a request under construction: checks modify its parts and
// materialize it with Target.Request. Body is a decoded JSON value (nil =
// no body).
type Prepared struct {
	Op          *openapi.Operation
	Path        map[string]string
	Query       url.Values
	Header      http.Header
	Body        any
	ContentType string
	// RawBody, when set, is sent instead of Body's JSON encoding (a body
	// JSON cannot express, such as duplicate keys); Body stays the
	// decoded intent.
	RawBody []byte
	// Files names the fields of a multipart body that are file uploads
	// (format: binary, or contentMediaType in 3.1), each with the part's
	// Content-Type: they are sent as file parts (with a filename), their
	// Body value as the file's content. Read only once prepared.
	Files map[string]string
}

// Clone returns a deep copy.
func (p *Prepared) Clone() *Prepared {
	q := &Prepared{Op: p.Op, Path: map[string]string{}, Query: url.Values{}, Header: p.Header.Clone(), ContentType: p.ContentType,
		RawBody: append([]byte(nil), p.RawBody...), Files: p.Files}
	if p.RawBody == nil {
		q.RawBody = nil
	}
	for k, v := range p.Path {
		q.Path[k] = v
	}
	for k, v := range p.Query {
		q.Query[k] = append([]string(nil), v...)
	}
	if p.Body != nil {
		b, _ := json.Marshal(p.Body)
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		_ = d.Decode(&q.Body)
	}
	return q
}

// BodyMap returns the body as a JSON object (nil if it is not one).
func (p *Prepared) BodyMap() map[string]any { m, _ := p.Body.(map[string]any); return m }

// Prepare builds a valid request for op as identity id (nil = anonymous):
// path parameters come from IDs harvested for id (its own objects first),
// then from any identity, then from the spec's examples; required query and
// header parameters and the JSON body come from the schemas.
func (t *Target) Prepare(op *openapi.Operation, id *Identity) *Prepared {
	p := &Prepared{Op: op, Path: map[string]string{}, Query: url.Values{}, Header: http.Header{}}
	for _, prm := range openapi.Params(op) {
		if prm == nil {
			continue
		}
		req := prm.Required != nil && *prm.Required
		var example any
		if v, ok := decodeNode(prm.Example); ok {
			example = v
		} else {
			example = genValue(&t.gen, schemaOf(prm.Schema), prm.Name, 0)
		}
		switch strings.ToLower(prm.In) {
		case "path":
			v := pickParam(t, op, prm.Name, schemaOf(prm.Schema), id)
			if v == "" {
				v = fmt.Sprint(example)
			}
			p.Path[prm.Name] = v
		case "query":
			if req {
				p.Query.Set(prm.Name, fmt.Sprint(example))
			}
		case "header":
			if req {
				p.Header.Set(prm.Name, fmt.Sprint(example))
			}
		}
	}
	if rb := openapi.Op(op).RequestBody; rb != nil && rb.Content != nil {
		for ct, mt := range rb.Content.FromOldest() {
			if !strings.Contains(ct, "json") {
				continue
			}
			p.ContentType = ct
			if v, ok := decodeNode(mt.Example); ok {
				p.Body = v
			} else if mt.Examples != nil && mt.Examples.Len() > 0 {
				if v, ok := decodeNode(mt.Examples.First().Value().Value); ok {
					p.Body = v
				}
			}
			if p.Body == nil {
				p.Body = genValue(&t.gen, schemaOf(mt.Schema), "", 0)
			}
			break
		}
		// A form-only body (a Python OAuth2 password login, an HTML form
		// handler, a multipart upload form): the same map, sent URL-encoded
		// or as multipart text parts (see Request), so every check that
		// fills or injects body fields works on it too.
		if p.ContentType == "" {
			for ct, mt := range rb.Content.FromOldest() {
				if !isForm(ct) && !isMultipart(ct) {
					continue
				}
				p.ContentType = ct
				body := map[string]any{}
				sch := schemaOf(mt.Schema)
				if isMultipart(ct) {
					p.Files = fileFields(sch, mt)
				}
				if v, ok := genValue(&t.gen, sch, "", 0).(map[string]any); ok {
					body = v
				}
				// Only the required fields and those with a stated value:
				// optional form fields often carry meaning (grant_type,
				// scope, client_id of an OAuth2 password form), and a
				// made-up value there is refused where leaving it out works.
				if sch != nil && sch.Properties != nil {
					for k := range body {
						ps := schemaOf(sch.Properties.GetOrZero(k))
						if !slices.Contains(sch.Required, k) && (ps == nil || (ps.Default == nil && ps.Const == nil && ps.Example == nil)) {
							delete(body, k)
						}
					}
				}
				p.Body = body
				break
			}
		}
	}
	return p
}

// formBody encodes a body map as application/x-www-form-urlencoded:
// strings as they are, numbers and booleans in their JSON form, arrays as
// repeated keys, objects and nulls as JSON text (forms have no nesting).
func formBody(v any) []byte {
	form := formValues(v)
	if form == nil {
		return nil
	}
	return []byte(form.Encode())
}

// multipartBody encodes a body map as multipart/form-data, one part per
// value (formValues' rules), in key order: a text part, or for a field in
// files a file part (filename ghscan.txt, files' Content-Type) whose
// content is the value. It returns the body and its boundary.
func multipartBody(v any, files map[string]string) ([]byte, string) {
	form := formValues(v)
	if form == nil {
		return nil, ""
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[k] {
			ct, file := files[k]
			if !file {
				_ = w.WriteField(k, v)
				continue
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": k, "filename": "ghscan.txt"}))
			h.Set("Content-Type", ct)
			if pw, err := w.CreatePart(h); err == nil {
				_, _ = io.WriteString(pw, v)
			}
		}
	}
	_ = w.Close()
	return buf.Bytes(), w.Boundary()
}

// fileFields returns the properties of a multipart body schema that are
// file uploads, with the Content-Type their part is sent with: the
// encoding object's contentType, else the schema's contentMediaType (3.1),
// else application/octet-stream. A file is a string of format binary (3.0)
// or with a contentMediaType (3.1), or an array of them (several files).
// FastAPI's UploadFile and multer's fields refuse a text part there.
func fileFields(sch *base.Schema, mt *v3.MediaType) map[string]string {
	if sch == nil || sch.Properties == nil {
		return nil
	}
	var files map[string]string
	for name, prop := range openapi.Properties(sch) {
		ps := schemaOf(prop)
		if ps != nil && ps.Items != nil && ps.Items.IsA() {
			if is := schemaOf(ps.Items.A); is != nil && slices.Contains(ps.Type, "array") {
				ps = is
			}
		}
		if ps == nil || (ps.Format != "binary" && ps.ContentMediaType == "") {
			continue
		}
		ct := "application/octet-stream"
		if ps.ContentMediaType != "" {
			ct = ps.ContentMediaType
		}
		if mt != nil && mt.Encoding != nil {
			if e := mt.Encoding.GetOrZero(name); e != nil && e.ContentType != "" {
				ct, _, _ = strings.Cut(e.ContentType, ",") // "image/png, image/jpeg": the first
				ct = strings.TrimSpace(ct)
			}
		}
		if files == nil {
			files = map[string]string{}
		}
		files[name] = ct
	}
	return files
}

// formValues flattens a body map into form values (nil if v is not a map).
func formValues(v any) url.Values {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	form := url.Values{}
	one := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case nil:
			return ""
		case map[string]any:
			b, _ := json.Marshal(x)
			return string(b)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	for k, v := range m {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				form.Add(k, one(e))
			}
			continue
		}
		form.Set(k, one(v))
	}
	return form
}

// isForm reports whether a Content-Type is a URL-encoded form.
func isForm(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/x-www-form-urlencoded")
}

// isMultipart reports whether a Content-Type is a multipart form.
func isMultipart(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/form-data")
}

var pathParamRe = regexp.MustCompile(`\{([^}]+)\}`)

// Request materializes p as identity id (nil = anonymous).
func (t *Target) Request(p *Prepared, id *Identity) *Request {
	path := pathParamRe.ReplaceAllStringFunc(p.Op.Template, func(m string) string {
		return url.PathEscape(p.Path[m[1:len(m)-1]])
	})
	u := t.URL(path)
	if len(p.Query) > 0 {
		u += "?" + p.Query.Encode()
	}
	h := p.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	id.Apply(h)
	r := &Request{Method: p.Op.Method, URL: u, Header: h, Op: p.Op.ID, Identity: identityName(id)}
	if p.Body != nil || p.RawBody != nil {
		r.Body = p.RawBody
		ct := p.ContentType
		switch {
		case r.Body != nil:
		case isForm(ct):
			r.Body = formBody(p.Body)
		case isMultipart(ct):
			var boundary string
			if r.Body, boundary = multipartBody(p.Body, p.Files); r.Body != nil {
				ct = "multipart/form-data; boundary=" + boundary
			}
		}
		if r.Body == nil {
			r.Body, _ = json.Marshal(p.Body)
		}
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
	}
	return r
}

// Send materializes p as id and sends it. A login identity whose token
// expires within 10 seconds logs in again first.
func (t *Target) Send(ctx context.Context, p *Prepared, id *Identity) (*Exchange, error) {
	if id.CanLogin() {
		now := time.Now
		if t.Now != nil {
			now = t.Now
		}
		if j, ok := ParseJWT(id.Token()); ok {
			if exp, ok := j.Claims["exp"].(float64); ok && now().Add(10*time.Second).Unix() >= int64(exp) {
				if err := t.Login(ctx, id); err != nil {
					t.Log.Warn("token refresh failed", "identity", id.Name, "error", err)
				}
			}
		}
	}
	r := t.Request(p, id)
	ex, err := t.Client.Do(ctx, r)
	if err == nil {
		t.recordCreated(ctx, p, id, ex)
		t.recordDeleted(r, ex)
	}
	return ex, err
}

// Do sends a raw request to path (target-wide checks).
func (t *Target) Do(ctx context.Context, method, path string, h http.Header, id *Identity) (*Exchange, error) {
	if h == nil {
		h = http.Header{}
	}
	id.Apply(h)
	return t.Client.Do(ctx, &Request{Method: method, URL: t.URL(path), Header: h, Identity: identityName(id)})
}

func identityName(id *Identity) string {
	if id == nil {
		return ""
	}
	return id.Name
}

// Baseline returns the response of a valid request for op as id (nil =
// anonymous), sending it on first use; IDs in 2xx JSON responses are
// harvested. It returns (nil, nil) when safe mode forbids the method.
func (t *Target) Baseline(ctx context.Context, op *openapi.Operation, id *Identity) (*Exchange, error) {
	key := op.ID + "\x00" + identityName(id)
	t.mu.Lock()
	ex, ok := t.baselines[key]
	t.mu.Unlock()
	if ok {
		return ex, nil
	}
	ex, err := t.Send(ctx, t.Prepare(op, id), id)
	if errors.Is(err, ErrUnsafe) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ex.OK() && id != nil {
		me := IsMe(op)
		if me {
			learnSelf(id, ex.Body)
		}
		t.Store.Harvest(id.Name, op, ex.Body, op.Method == http.MethodPost || me)
	}
	t.mu.Lock()
	t.baselines[key] = ex
	t.mu.Unlock()
	return ex, nil
}

// Login logs id in through its login operation and makes it send the token.
func (t *Target) Login(ctx context.Context, id *Identity) error {
	if id.Session {
		return t.loginSession(ctx, id)
	}
	tok, err := t.FreshToken(ctx, id)
	if err != nil {
		return err
	}
	id.setToken(tok)
	if j, ok := ParseJWT(tok); ok {
		if sub, ok := j.Claims["sub"].(string); ok && sub != "" {
			t.Store.Add(id.Name, "user", sub, true)
			t.Store.Add(id.Name, "me", sub, true)
		}
	}
	return nil
}

// ErrNoToken: the login answered 2xx but no token was found in its body.
var ErrNoToken = errors.New("no token in login response")

// FreshToken logs in as id and returns the new token without changing the
// token id currently sends (logout tests use it).
func (t *Target) FreshToken(ctx context.Context, id *Identity) (string, error) {
	if !id.CanLogin() {
		return "", fmt.Errorf("identity %q has no login operation", id.Name)
	}
	op := t.Operation(id.LoginOp)
	if op == nil {
		return "", fmt.Errorf("identity %q: login operation %q is not in the spec", id.Name, id.LoginOp)
	}
	ex, err := t.sendLogin(ctx, op, id)
	if err != nil {
		return "", err
	}
	if tok := findToken(ex.Body); tok != "" {
		return tok, nil
	}
	return "", fmt.Errorf("login as %q: %w", id.Name, ErrNoToken)
}

var tokenKeys = []string{"token", "access_token", "accessToken", "jwt", "id_token", "auth_token", "authToken"}

func findToken(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var walk func(v any, depth int) string
	walk = func(v any, depth int) string {
		m, ok := v.(map[string]any)
		if !ok || depth > 3 {
			return ""
		}
		for _, k := range tokenKeys {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		for _, e := range m {
			if s := walk(e, depth+1); s != "" {
				return s
			}
		}
		return ""
	}
	return walk(v, 0)
}

// Store holds object IDs harvested from responses, per identity and
// resource key ("user", "note"). Owned values come from objects the identity
// created or from its own token (its user ID). It is safe for concurrent use.
type Store struct {
	mu sync.Mutex
	m  map[string]map[string][]storeValue
	// ownerOf names the identity value v belongs to ("" if none): objects
	// whose owner-like field holds it are recorded as that identity's.
	ownerOf func(v string) string
}

type storeValue struct {
	v     string
	owned bool
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{m: map[string]map[string][]storeValue{}} }

// Add records value v of resource key for identity.
func (s *Store) Add(identity, key, v string, owned bool) {
	if v == "" || key == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m[identity]
	if m == nil {
		m = map[string][]storeValue{}
		s.m[identity] = m
	}
	for i, x := range m[key] {
		if x.v == v {
			m[key][i].owned = x.owned || owned
			return
		}
	}
	if len(m[key]) < 200 {
		m[key] = append(m[key], storeValue{v, owned})
	}
}

// Owned returns the values of key that identity owns, newest first.
func (s *Store) Owned(identity, key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	vs := s.m[identity][key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].owned {
			out = append(out, vs[i].v)
		}
	}
	return out
}

// Seen reports whether identity has seen value v of key at all.
func (s *Store) Seen(identity, key, v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.m[identity][key] {
		if x.v == v {
			return true
		}
	}
	return false
}

// Pick returns the best value of key for identity: its newest owned value,
// then its newest seen value, then any identity's; "" if none.
func (s *Store) Pick(identity, key string) string {
	if o := s.Owned(identity, key); len(o) > 0 {
		return o[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if vs := s.m[identity][key]; len(vs) > 0 {
		return vs[len(vs)-1].v
	}
	names := make([]string, 0, len(s.m))
	for n := range s.m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if vs := s.m[n][key]; len(vs) > 0 {
			return vs[len(vs)-1].v
		}
	}
	return ""
}

// Harvest records the IDs found in a JSON response body of op: "id" fields
// under the resource keys of op's path, "<x>_id"/"<x>Id" fields under x.
func (s *Store) Harvest(identity string, op *openapi.Operation, body []byte, owned bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return
	}
	s.harvest(identity, resourceKeys(op.Template), v, owned, 0)
}

func (s *Store) harvest(identity string, keys []string, v any, owned bool, depth int) {
	if depth > 3 {
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if i >= 50 {
				break
			}
			s.harvest(identity, keys, e, false, depth+1) // list items are seen, not owned
		}
	case map[string]any:
		s.object(identity, keys, x, owned)
		if !owned && s.ownerOf != nil {
			if o := s.inferOwner(x); o != "" {
				s.object(o, keys, x, true)
			}
		}
		for k, e := range x {
			if scalar(e) != "" {
				continue
			}
			sub := keys
			if _, isObj := e.(map[string]any); isObj {
				sub = []string{Singular(strings.ToLower(k))}
			}
			s.harvest(identity, sub, e, owned, depth+1)
		}
	}
}

// object records the identifiers among the scalar fields of one JSON
// object: "id" under each resource key, "<x>_id"/"<x>Id" under x, and every
// identifier-like value (strings such as titles, slugs, names, e-mails,
// UUIDs; integers) under "<resource>.<field>" and "field:<field>", so a
// path parameter of any name ({book_title}, {slug}, {username}) finds the
// values it takes.
func (s *Store) object(identity string, keys []string, x map[string]any, owned bool) {
	for k, e := range x {
		sv := scalar(e)
		if sv == "" {
			continue
		}
		lk := strings.ToLower(k)
		switch {
		case lk == "id":
			for _, key := range keys {
				s.Add(identity, key, sv, owned)
			}
		case strings.HasSuffix(lk, "_id") || strings.HasSuffix(k, "Id"):
			s.Add(identity, Singular(strings.TrimSuffix(strings.TrimSuffix(lk, "_id"), "id")), sv, owned)
		}
		if !identifierLike(lk, sv) {
			continue
		}
		for _, f := range fieldForms(lk) {
			for _, key := range keys {
				s.Add(identity, key+"."+f, sv, owned)
			}
			s.Add(identity, "field:"+f, sv, owned)
		}
	}
}

// fieldForms returns a lower-cased field name and, when it differs, its
// form without '_' and '-': "bookTitle" (Node) and "book_title" (Python)
// name the same thing, so both meet under "booktitle".
func fieldForms(lk string) []string {
	if n := NormField(lk); n != lk && n != "" {
		return []string{lk, n}
	}
	return []string{lk}
}

// fieldJoiner drops the separators NormField ignores.
var fieldJoiner = strings.NewReplacer("_", "", "-", "")

// NormField is a field or parameter name in lower case without '_' and
// '-': "book_title", "bookTitle" and "book-title" are all "booktitle".
func NormField(s string) string { return fieldJoiner.Replace(strings.ToLower(s)) }

// ownerFields name the identity an object belongs to; an object whose
// username/email is an identity's is that identity's own record.
var ownerFields = []string{"owner", "owner_id", "ownerid", "user", "user_id", "userid", "username", "user_name",
	"email", "login", "created_by", "createdby", "author", "author_id", "authorid", "creator", "creator_id",
	"owned_by", "ownedby", "posted_by", "account", "account_id"}

// inferOwner returns the identity that an owner-like field of x names
// (also inside a nested {"owner": {"id": ...}}), "" if none does or they
// disagree.
func (s *Store) inferOwner(x map[string]any) string {
	owner := ""
	note := func(v string) bool {
		if v == "" {
			return true
		}
		o := s.ownerOf(v)
		if o == "" {
			return true
		}
		if owner != "" && owner != o {
			owner = ""
			return false
		}
		owner = o
		return true
	}
	for k, e := range x {
		lk := strings.ToLower(k)
		if !contains(ownerFields, lk) {
			continue
		}
		if m, ok := e.(map[string]any); ok {
			for _, f := range []string{"id", "username", "email", "login", "name"} {
				if !note(scalar(m[f])) {
					return ""
				}
			}
			continue
		}
		if !note(scalar(e)) {
			return ""
		}
	}
	return owner
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// identifierLike reports whether the value of field k can address an
// object: an integer, a UUID, an e-mail, or a short single-line string
// that is not a credential, a date or a URL.
func identifierLike(k, v string) bool {
	if len(v) > 80 || strings.ContainsAny(v, "\n\r\t") || secretName(k) {
		return false
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return true
	}
	if strings.Contains(v, "://") || dateLikeRe.MatchString(v) {
		return false
	}
	return true
}

var dateLikeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}([T ]|$)`)

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 0 && len(x) <= 128 {
			return x
		}
	case json.Number:
		return x.String()
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}

// resourceKeys returns the singular static segments of a path template:
// "/admin/users/{user_id}/role" → [admin user role].
func resourceKeys(tmpl string) []string {
	var out []string
	for _, seg := range strings.Split(tmpl, "/") {
		if seg == "" || strings.HasPrefix(seg, "{") || isVersionSeg(seg) {
			continue
		}
		out = append(out, Singular(strings.ToLower(seg)))
	}
	return out
}

func isVersionSeg(s string) bool {
	s = strings.ToLower(s)
	return s == "api" || (len(s) >= 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9')
}

// ParamKey returns the resource key of path parameter name in tmpl:
// "user_id" → "user"; "id" in "/notes/{id}" → "note".
func ParamKey(tmpl, name string) string {
	l := strings.ToLower(name)
	for _, suf := range []string{"_id", "-id", "id"} {
		if strings.HasSuffix(l, suf) && len(l) > len(suf) {
			return Singular(strings.TrimSuffix(l, suf))
		}
	}
	if l != "id" {
		return Singular(l)
	}
	prev := ""
	for _, seg := range strings.Split(tmpl, "/") {
		if seg == "{"+name+"}" {
			return Singular(strings.ToLower(prev))
		}
		if !strings.HasPrefix(seg, "{") {
			prev = seg
		}
	}
	return l
}

// Singular is a crude English singular for resource names.
func Singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies") && len(s) > 3:
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "xes"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "ss"):
		return s
	case strings.HasSuffix(s, "s") && len(s) > 1:
		return s[:len(s)-1]
	}
	return s
}

// RequiresAuth reports whether op declares a security requirement that is
// not optional (operation-level security overrides the document's).
func (t *Target) RequiresAuth(op *openapi.Operation) bool {
	reqs := openapi.Op(op).Security
	if reqs == nil && openapi.Model(t.Spec) != nil {
		reqs = openapi.Model(t.Spec).Security
	}
	if len(reqs) == 0 {
		return false
	}
	for _, r := range reqs {
		if r == nil || r.ContainsEmptyRequirement || r.Requirements == nil || r.Requirements.Len() == 0 {
			return false
		}
	}
	return true
}

func extTrue(op *openapi.Operation, name string) bool {
	if openapi.Op(op).Extensions == nil {
		return false
	}
	n := openapi.Op(op).Extensions.GetOrZero(name)
	if n == nil {
		return false
	}
	var b bool
	return n.Decode(&b) == nil && b
}

var (
	loginRe  = regexp.MustCompile(`(?i)(^|[^a-z])(log-?in|sign-?in|authenticate|token|session)s?($|[^a-z])|login|signin`)
	logoutRe = regexp.MustCompile(`(?i)log-?out|sign-?out|revoke`)
	adminRe  = regexp.MustCompile(`(?i)(^|[^a-z])(admin|administrator|internal|manage|management|backoffice|superuser|staff)($|[^a-z])|admin`)
)

// IsLogin reports whether op is a login operation (x-gatehouse-login, or a
// POST whose ID or path says login/signin/token).
func IsLogin(op *openapi.Operation) bool {
	if extTrue(op, "x-gatehouse-login") {
		return true
	}
	return op.Method == http.MethodPost && !IsLogout(op) && (loginRe.MatchString(op.ID) || loginRe.MatchString(op.Template))
}

// IsLogout reports whether op is a logout operation.
func IsLogout(op *openapi.Operation) bool {
	if extTrue(op, "x-gatehouse-logout") {
		return true
	}
	return logoutRe.MatchString(op.ID) || logoutRe.MatchString(op.Template)
}

// LooksAdmin reports whether op looks administrative by its tags, path or ID.
func LooksAdmin(op *openapi.Operation) bool {
	if extTrue(op, "x-gatehouse-admin") {
		return true
	}
	for _, tg := range op.Tags {
		if adminRe.MatchString(tg) {
			return true
		}
	}
	return adminRe.MatchString(op.Template) || adminRe.MatchString(op.ID)
}

// ResponseSchema returns the JSON schema of op's response for status (or
// its 2xx / default response), nil if none is declared.
func ResponseSchema(op *openapi.Operation, status int) *base.Schema {
	if openapi.Op(op).Responses == nil || openapi.Op(op).Responses.Codes == nil {
		return nil
	}
	codes := []string{fmt.Sprint(status), fmt.Sprintf("%dXX", status/100), fmt.Sprintf("%dxx", status/100)}
	for _, c := range codes {
		if r := openapi.Op(op).Responses.Codes.GetOrZero(c); r != nil && r.Content != nil {
			for ct, mt := range r.Content.FromOldest() {
				if strings.Contains(ct, "json") {
					return schemaOf(mt.Schema)
				}
			}
		}
	}
	return nil
}

// SchemaOf resolves a schema proxy (nil-safe).
func SchemaOf(p *base.SchemaProxy) *base.Schema { return schemaOf(p) }

// Baselines returns the baseline exchanges recorded so far (crawl and
// Baseline calls), ordered by operation and identity.
func (t *Target) Baselines() []*Exchange {
	t.mu.Lock()
	keys := make([]string, 0, len(t.baselines))
	for k := range t.baselines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*Exchange, 0, len(keys))
	for _, k := range keys {
		if ex := t.baselines[k]; ex != nil {
			out = append(out, ex)
		}
	}
	t.mu.Unlock()
	return out
}

// Identity returns the identity with the given name, or nil.
func (t *Target) Identity(name string) *Identity {
	for _, id := range t.Identities {
		if id.Name == name {
			return id
		}
	}
	return nil
}

// WithToken returns the request for p sent with "Authorization: Bearer tok"
// instead of any identity's credentials.
func (t *Target) WithToken(p *Prepared, tok string) *Request {
	r := t.Request(p, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Identity = "forged"
	return r
}

// Stop reports whether err must end a check: the budget is spent, the
// context is done, or the target stopped answering. Other errors (a
// request forbidden by safe mode) only skip the request.
func Stop(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if ctx.Err() != nil || errors.Is(err, ErrBudget) {
		return true
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && !errors.Is(err, ErrUnsafe)
}

// paramKeys returns the Store keys a path parameter's values are looked up
// under, the historical resource key first: {user_id} → [user user.id
// field:user_id]; {book_title} in /books/{book_title} → [book_title
// book.book_title book.title field:book_title field:title]; {slug} in
// /posts/{slug} → [slug post.slug field:slug].
func paramKeys(tmpl, name string) []string {
	k0 := ParamKey(tmpl, name)
	l := strings.ToLower(name)
	res := ""
	prev := ""
	for _, seg := range strings.Split(tmpl, "/") {
		if seg == "{"+name+"}" {
			res = Singular(strings.ToLower(prev))
			break
		}
		if !strings.HasPrefix(seg, "{") {
			prev = seg
		}
	}
	out := []string{k0}
	add := func(k string) {
		if k != "" && !contains(out, k) {
			out = append(out, k)
		}
	}
	if k0 != l && k0 != Singular(l) { // *_id, *Id: the object's own id field
		add(k0 + ".id")
		add("field:" + l)
		return out
	}
	field := l
	if a, b, ok := strings.Cut(l, "_"); ok && b != "" {
		add(Singular(a) + "." + b)
		field = b
	}
	if res != "" {
		add(res + "." + l)
		add(res + "." + field)
	}
	add("field:" + l)
	add("field:" + field)
	// the joined form matches camelCase and kebab-case fields too:
	// {book_title} finds bookTitle, book-title and book_title.
	if forms := fieldForms(l); len(forms) > 1 {
		if res != "" {
			add(res + "." + forms[1])
		}
		add("field:" + forms[1])
	}
	return out
}

var identityParamRe = regexp.MustCompile(`(?i)^(user|username|user_?name|user_?id|uid|email|e_?mail|account|account_?id|login|owner|owner_?id|author|handle|member|profile|me)$`)

// IdentityParam reports whether a parameter of this name addresses a user
// ({username}, {user}, {email}, {account}...): the identities' own values
// fill it.
func IdentityParam(name string) bool { return identityParamRe.MatchString(name) }

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// fits reports whether v can be a value of a parameter with schema s and
// name name (integers for integer schemas, UUIDs for format uuid, e-mails
// for format email or an e-mail-named parameter).
func fits(s *base.Schema, name, v string) bool {
	if strings.Contains(strings.ToLower(name), "mail") && !strings.Contains(v, "@") {
		return false
	}
	if s == nil {
		return true
	}
	switch {
	case hasType(s, "integer"):
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case hasType(s, "number"):
		_, err := strconv.ParseFloat(v, 64)
		return err == nil
	case s.Format == "uuid":
		return uuidRe.MatchString(v)
	case s.Format == "email":
		return strings.Contains(v, "@")
	}
	return true
}

func paramSchema(t *Target, op *openapi.Operation, name string) *base.Schema {
	for _, prm := range openapi.Params(op) {
		if prm != nil && prm.Name == name && strings.EqualFold(prm.In, "path") {
			return schemaOf(prm.Schema)
		}
	}
	return nil
}

// OwnedParam returns the values of path parameter param of op that id
// owns, best first: objects it created or that name it as their owner
// (under every key of the parameter), then, for user-like parameters
// ({username}, {email}, {user_id}...), the identity's own values. Only
// values that fit the parameter's schema are returned. A spec example is
// never among them: it proves nothing exists.
func (t *Target) OwnedParam(op *openapi.Operation, param string, id *Identity) []string {
	if id == nil {
		return nil
	}
	s := paramSchema(t, op, param)
	var out []string
	add := func(v string) {
		if v != "" && fits(s, param, v) && !contains(out, v) {
			out = append(out, v)
		}
	}
	keys := paramKeys(op.Template, param)
	for _, v := range t.Store.Owned(id.Name, keys[0]) {
		add(v)
	}
	if IdentityParam(param) {
		for _, v := range id.Self() {
			add(v)
		}
	}
	for _, k := range keys[1:] {
		for _, v := range t.Store.Owned(id.Name, k) {
			add(v)
		}
	}
	return out
}

// pickParam returns the value of a path parameter for id: a harvested
// value under the parameter's resource key (as before), else one id
// owns, else one any identity has seen under its other keys; "" if none.
func pickParam(t *Target, op *openapi.Operation, name string, s *base.Schema, id *Identity) string {
	keys := paramKeys(op.Template, name)
	if v := t.Store.Pick(identityName(id), keys[0]); v != "" && fits(s, name, v) {
		return v
	}
	if own := t.OwnedParam(op, name, id); len(own) > 0 {
		return own[0]
	}
	for _, k := range keys[1:] {
		if v := t.Store.Pick(identityName(id), k); v != "" && fits(s, name, v) {
			return v
		}
	}
	return ""
}

var meSegRe = regexp.MustCompile(`(?i)^(me|self|myself|whoami|profile|my-?profile|account|my-?account|current|current[-_]?user|userinfo|user)$`)

// IsMe reports whether op is a "me"-style read: a GET without path
// parameters whose last path segment is me, self, whoami, profile,
// account, current_user, userinfo or user. Its answer describes the
// caller, so its values name the identity and its object is the
// identity's own.
func IsMe(op *openapi.Operation) bool {
	if op.Method != http.MethodGet || strings.Contains(op.Template, "{") {
		return false
	}
	segs := strings.Split(strings.Trim(op.Template, "/"), "/")
	return meSegRe.MatchString(segs[len(segs)-1])
}

// selfFields are the fields of a "me" or login answer that name the caller.
var selfFields = []string{"id", "user_id", "userid", "uid", "uuid", "username", "user_name", "login", "email", "handle", "account_id", "sub"}

// learnSelf records the caller-naming fields of a "me" or login answer
// (top level, and one level down under user/profile/account/data) as id's
// own values.
func learnSelf(id *Identity, body []byte) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	objs := []map[string]any{m}
	for _, k := range []string{"user", "profile", "account", "data", "me"} {
		if sub, ok := m[k].(map[string]any); ok {
			objs = append(objs, sub)
		}
	}
	for _, o := range objs {
		for k, e := range o {
			if contains(selfFields, strings.ToLower(k)) {
				id.Learn(scalar(e))
			}
		}
	}
}

// FindToken returns the token of a login answer (token, access_token, jwt,
// id_token... at any depth up to 3), "" if there is none: a failed login
// answered 200 with a message has none.
func FindToken(body []byte) string { return findToken(body) }

// OwnerOf returns the identity a JSON object belongs to by its owner-like
// fields (owner, user, username, email, created_by, author, *_id forms,
// or a nested {"owner": {"id": ...}}) matched to the identities' own
// values; "" when none or several match.
func (t *Target) OwnerOf(obj map[string]any) string {
	if t.Store.ownerOf == nil {
		return ""
	}
	return t.Store.inferOwner(obj)
}
