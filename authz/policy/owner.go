package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/jsonx"
)

// ownerCheck is an Owner rule compiled for one operation.
type ownerCheck struct {
	param  string
	norm   string // folded, normalized param name
	claim  string
	unless []string
	inPath bool
	pathT  celpolicy.Type
	queryT celpolicy.Type
	bodyT  celpolicy.Type
}

func newOwnerCheck(o *Owner, op *Operation) (*ownerCheck, error) {
	oc := &ownerCheck{param: o.Param, norm: foldKey(normalizeName(o.Param)), claim: o.Claim, unless: o.UnlessRoles}
	var declT *celpolicy.Type
	var qT, bT *celpolicy.Type
	for i := range op.Params {
		prm := &op.Params[i]
		if prm.Name != o.Param {
			continue
		}
		switch prm.In {
		case InPath:
			oc.inPath, oc.pathT = true, prm.Type
			declT = &prm.Type
		case InQuery:
			qT = &prm.Type
		case InBody:
			bT = &prm.Type
		}
	}
	if declT == nil {
		declT = qT
	}
	if declT == nil {
		declT = bT
	}
	if declT == nil {
		return nil, fmt.Errorf("operation does not declare parameter %q in path, query or JSON body", o.Param)
	}
	// A location the spec does not declare is still checked (frameworks merge
	// path, query and body parameters), with the declared type.
	oc.queryT, oc.bodyT = *declT, *declT
	if qT != nil {
		oc.queryT = *qT
	}
	if bT != nil {
		oc.bodyT = *bT
	}
	return oc, nil
}

// normalizeName maps a query or form name to the name an upstream framework
// might bind it to: "user_id[]" / "user_id[0]" (array syntax) → "user_id",
// and '.' or ' ' → '_' (PHP mangles "user.id" into "user_id").
func normalizeName(s string) string {
	if i := strings.IndexByte(s, '['); i > 0 {
		s = s[:i]
	}
	if strings.ContainsAny(s, ". ") {
		s = strings.NewReplacer(".", "_", " ", "_").Replace(s)
	}
	return s
}

// foldKey returns a case-folded form such that foldKey(a) == foldKey(b)
// exactly when strings.EqualFold(a, b): each rune becomes the smallest member
// of its Unicode simple-fold orbit (so "K", "k" and the Kelvin sign U+212A
// agree, as they do for Go's encoding/json field matching).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		b.WriteRune(m)
	}
	return b.String()
}

// occurrence is one value of the owner parameter found in the request.
type occurrence struct {
	loc string // "path", "query", "body"
	raw string // the literal (JSON numbers as written, strings decoded)
	// str tells a JSON string from a JSON number; kind "other" marks a value
	// that can never be an id (null, bool, object, array).
	str   bool
	other string
}

// checkOwner returns "" when every occurrence of the parameter is the
// principal's own id, else the reason for denial.
func (ev *evalCtx) checkOwner(oc *ownerCheck) string {
	pr := ev.pr
	for _, role := range oc.unless {
		if pr.HasRole(role) {
			return ""
		}
	}
	claim, ok := claimValue(pr, oc.claim)
	if !ok {
		return fmt.Sprintf("owner: principal has no claim %q", oc.claim)
	}
	n := 0
	check := func(o occurrence, t celpolicy.Type) string {
		n++
		if o.other != "" {
			return fmt.Sprintf("owner: %s %s is %s, not an id", o.loc, oc.param, o.other)
		}
		switch why := idMatch(claim, o.raw, t); why {
		case "":
			return ""
		case idNoMatch:
			return fmt.Sprintf("owner: %s %s=%s does not match claim %s", o.loc, oc.param, quote(o.raw), oc.claim)
		default:
			return fmt.Sprintf("owner: %s %s=%s %s", o.loc, oc.param, quote(o.raw), why)
		}
	}
	if oc.inPath {
		v, ok := ev.rt.Params[oc.param]
		if !ok {
			return fmt.Sprintf("owner: path parameter %s missing from the route", oc.param)
		}
		if r := check(occurrence{loc: InPath, raw: v}, oc.pathT); r != "" {
			return r
		}
	}
	pairs, err := ev.query()
	if err != nil {
		return "owner: " + err.Error()
	}
	for _, q := range pairs {
		if foldKey(normalizeName(q.name)) == oc.norm {
			if r := check(occurrence{loc: InQuery, raw: q.value}, oc.queryT); r != "" {
				return r
			}
		}
	}
	b, err := ev.bodyScan()
	if err != nil {
		return "owner: " + err.Error()
	}
	if b != nil {
		for _, o := range b.find(oc.norm, b.form) {
			// A JSON string where an integer is declared counts only in its
			// canonical spelling ("1"); anything else fails CanonicalID.
			if r := check(o, oc.bodyT); r != "" {
				return r
			}
		}
	}
	if n == 0 {
		return fmt.Sprintf("owner: %s not present in the request", oc.param)
	}
	return ""
}

func quote(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return strconv.Quote(s)
}

// claimValue finds a claim: "sub" is the subject; other names are looked up
// in Claims, first as a whole key, then as a dotted path into nested maps.
func claimValue(p *authn.Principal, name string) (any, bool) {
	if name == "sub" && p.Subject != "" {
		return p.Subject, true
	}
	if v, ok := p.Claims[name]; ok && v != nil {
		return v, true
	}
	var cur any = p.Claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok || cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// claimHas reports whether the claim (scalar or list) holds key under type t.
func claimHas(claim any, key string, t celpolicy.Type) bool {
	switch c := claim.(type) {
	case []any:
		for _, e := range c {
			if k, ok := canonicalClaim(e, t); ok && k == key {
				return true
			}
		}
		return false
	case []string:
		for _, e := range c {
			if k, ok := canonicalClaim(e, t); ok && k == key {
				return true
			}
		}
		return false
	}
	k, ok := canonicalClaim(claim, t)
	return ok && k == key
}

// qpair is one decoded query (or form) pair.
type qpair struct{ name, value string }

// parseQuery splits a raw query on '&' and ';' (some frameworks accept both)
// and percent-decodes names and values ('+' is a space). Malformed escapes
// are an error: the request is denied rather than guessed.
func parseQuery(raw string) ([]qpair, error) {
	if raw == "" {
		return nil, nil
	}
	var out []qpair
	for raw != "" {
		var part string
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			part, raw = raw[:i], raw[i+1:]
		} else {
			part, raw = raw, ""
		}
		if part == "" {
			continue
		}
		n, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(n)
		if err != nil {
			return nil, fmt.Errorf("malformed query escape in name %s", quote(n))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("malformed query escape in %s", quote(name))
		}
		out = append(out, qpair{name, val})
	}
	return out, nil
}

// bodyInfo is the result of scanning a request body once.
type bodyInfo struct {
	form  bool
	pairs []qpair      // form bodies
	top   []jsonMember // JSON: top-level members of an object body
}

type jsonMember struct {
	key string // decoded (escapes resolved)
	occ occurrence
}

func (b *bodyInfo) find(norm string, form bool) []occurrence {
	var out []occurrence
	if form {
		for _, q := range b.pairs {
			if foldKey(normalizeName(q.name)) == norm {
				out = append(out, occurrence{loc: InBody, raw: q.value, str: true})
			}
		}
		return out
	}
	for _, m := range b.top {
		if foldKey(m.key) == norm {
			out = append(out, m.occ)
		}
	}
	return out
}

var (
	errBodyJSON = errors.New("body is not valid JSON")
	// errFoldDuplicate: two keys of one object equal under case folding.
	errFoldDuplicate = errors.New("an object repeats a key in another letter case")
)

// parseJSON parses b strictly (jsonx: exact duplicate keys after
// unescaping, invalid UTF-8, lone surrogates, BOM, trailing data, excessive
// depth or length are all errors, so the gateway never reads a document the
// upstream could read differently), and then also rejects two keys of one
// object that are equal under case folding ("user_id" and "User_Id"): Go's
// encoding/json, among others, binds either to the same field.
func parseJSON(b []byte) (any, error) {
	return strictJSON(jsonx.Parse(b, jsonx.Limits{}))
}

// strictJSON is parseJSON's judgement of a jsonx parse (v, err): also the
// request body's, which is parsed once per request (httpx.JSON) and shared
// with every other stage of the gateway.
func strictJSON(v any, err error) (any, error) {
	if err != nil {
		var je *jsonx.Error
		if errors.As(err, &je) {
			return nil, fmt.Errorf("%w: %w at %s", errBodyJSON, je.Err, je.Pointer)
		}
		return nil, errBodyJSON
	}
	if foldDuplicate(v, 0) {
		return nil, fmt.Errorf("%w: %w", errBodyJSON, errFoldDuplicate)
	}
	return v, nil
}

// foldDuplicate reports whether any object in v has two keys equal under
// case folding.
func foldDuplicate(v any, depth int) bool {
	switch x := v.(type) {
	case map[string]any:
		seen := make(map[string]struct{}, len(x))
		for k, e := range x {
			fk := foldKey(k)
			if _, dup := seen[fk]; dup {
				return true
			}
			seen[fk] = struct{}{}
			if foldDuplicate(e, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if foldDuplicate(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// scanJSON parses b (see parseJSON) and returns the members of a top-level
// object; other documents have none.
func scanJSON(b []byte) ([]jsonMember, error) {
	v, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	return members(v), nil
}

func members(v any) []jsonMember {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	top := make([]jsonMember, 0, len(obj))
	for k, val := range obj {
		m := jsonMember{key: k, occ: occurrence{loc: InBody}}
		switch x := val.(type) {
		case json.Number:
			m.occ.raw = x.String()
		case string:
			m.occ.raw, m.occ.str = x, true
		case bool:
			m.occ.other = "a boolean"
		case nil:
			m.occ.other = "null"
		default:
			m.occ.other = "an object or array"
		}
		top = append(top, m)
	}
	return top
}

// hasDuplicateKeys reports whether b repeats a key (exactly or in another
// letter case) in any object; an error when b is not valid JSON otherwise.
func hasDuplicateKeys(b []byte) (bool, error) {
	_, err := parseJSON(b)
	if err == nil {
		return false, nil
	}
	if errors.Is(err, jsonx.ErrDuplicateKey) || errors.Is(err, errFoldDuplicate) {
		return true, nil
	}
	return false, err
}

// readBody reads the (shared, bounded) request body.
func (ev *evalCtx) readBody() ([]byte, error) {
	r := ev.r
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := httpx.Body(r, ev.p.maxBody)
	if errors.Is(err, httpx.ErrBodyTooLarge) {
		return nil, fmt.Errorf("body exceeds %d bytes; cannot verify", ev.p.maxBody)
	}
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// mediaKind classifies the request's Content-Type.
func mediaKind(r *http.Request) (json, form, declared bool) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false, false, false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, false, true
	}
	mt = strings.ToLower(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json"), mt == "application/x-www-form-urlencoded", true
}

// bodyScan reads and scans the body once per request. A body whose media
// type is JSON (or unlabelled, or any type when it parses as JSON — some
// upstreams sniff) is scanned as JSON; a form body as pairs. Other bodies
// (multipart, binary) are opaque: ownership is then checked on path and
// query only.
func (ev *evalCtx) bodyScan() (*bodyInfo, error) {
	if ev.bodyDone {
		return ev.body, ev.bodyErr
	}
	ev.bodyDone = true
	b, err := ev.readBody()
	if err != nil || len(b) == 0 {
		ev.bodyErr = err
		return nil, err
	}
	isJSON, isForm, declared := mediaKind(ev.r)
	switch {
	case isForm:
		pairs, err := parseQuery(string(b))
		if err != nil {
			ev.bodyErr = fmt.Errorf("form body: %w", err)
			return nil, ev.bodyErr
		}
		ev.body = &bodyInfo{form: true, pairs: pairs}
	default:
		v, err := ev.parsedBody(b)
		if err != nil {
			if isJSON || !declared {
				ev.bodyErr = err
				return nil, err
			}
			return nil, nil // opaque
		}
		ev.body = &bodyInfo{top: members(v)}
	}
	return ev.body, nil
}
