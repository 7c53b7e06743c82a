package dynamic

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// point is one injectable value of a request: the one enumeration every
// injection check (GH2050–GH2054) probes.
type point struct {
	in, name, orig string
	// path locates a nested body string: object keys and array indexes
	// from the body's root (nil for top-level fields and parameters).
	path []any
	// schema is the value's declared schema (nil when the spec says
	// nothing about it).
	schema *base.Schema
}

// set replaces the point's value in p with v; the rest of p stays as it
// is. Path, query and header points take v's string form.
func (pt point) set(p *scan.Prepared, v any) {
	switch pt.in {
	case "path":
		p.Path[pt.name] = fmt.Sprint(v)
	case "query":
		p.Query.Set(pt.name, fmt.Sprint(v))
	case "header":
		if p.Header == nil {
			p.Header = http.Header{}
		}
		p.Header.Set(pt.name, fmt.Sprint(v))
	case "cookie":
		if p.Header == nil {
			p.Header = http.Header{}
		}
		setCookie(p.Header, pt.name, fmt.Sprint(v))
	case "body":
		if pt.path == nil {
			if b := p.BodyMap(); b != nil {
				b[pt.name] = v
			}
			return
		}
		var cur any = p.Body
		for i, step := range pt.path {
			last := i == len(pt.path)-1
			switch c := cur.(type) {
			case map[string]any:
				k, _ := step.(string)
				if last {
					c[k] = v
					return
				}
				cur = c[k]
			case []any:
				n, _ := step.(int)
				if n >= len(c) {
					return
				}
				if last {
					c[n] = v
					return
				}
				cur = c[n]
			default:
				return
			}
		}
	}
}

// get returns the point's current string value in p, or its value when
// the points were listed if p has none there.
func (pt point) get(p *scan.Prepared) string {
	var v any
	switch pt.in {
	case "path":
		v = p.Path[pt.name]
	case "query":
		v = p.Query.Get(pt.name)
	case "header":
		v = p.Header.Get(pt.name)
	case "cookie":
		v = cookieValue(p.Header, pt.name)
	case "body":
		if pt.path == nil {
			v = p.BodyMap()[pt.name]
			break
		}
		v = p.Body
		for _, step := range pt.path {
			switch c := v.(type) {
			case map[string]any:
				k, _ := step.(string)
				v = c[k]
			case []any:
				n, _ := step.(int)
				if n >= len(c) {
					return pt.orig
				}
				v = c[n]
			default:
				return pt.orig
			}
		}
	}
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return pt.orig
}

func (pt point) String() string { return pt.in + " " + pt.name }

// freeString reports whether s is a free-form string: no enum, not
// read-only and, when noFormat, no format (an e-mail or a date is
// validated before any query).
func freeString(s *base.Schema, noFormat bool) bool {
	return s != nil && hasType(s, "string") && len(s.Enum) == 0 && (!noFormat || s.Format == "") &&
		(s.ReadOnly == nil || !*s.ReadOnly)
}

// maxNestedPoints bounds the nested body strings probed per operation.
const maxNestedPoints = 8

// reservedHeader reports whether a header declared as a parameter is one
// the probes leave alone: the ones HTTP or the scan itself sets, and
// credentials (an API key header carries the identity).
func reservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "cookie", "content-type", "content-length", "accept", "host", "transfer-encoding", "connection":
		return true
	}
	return scan.SecretName(scan.NormField(name))
}

// cookiePairs splits h's Cookie header into name=value pairs.
func cookiePairs(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Cookie") {
		for _, kv := range strings.Split(line, ";") {
			if kv = strings.TrimSpace(kv); kv != "" {
				out = append(out, kv)
			}
		}
	}
	return out
}

// cookieValue returns the value of cookie name in h ("" if none).
func cookieValue(h http.Header, name string) string {
	for _, kv := range cookiePairs(h) {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// setCookie sets cookie name to v in h's one Cookie header, keeping the
// other cookies. A ';' in v would end the cookie early, so it is sent
// percent-encoded (servers that decode cookies, as Express does, see the
// payload whole); control characters cannot be sent in a header at all
// and are dropped.
func setCookie(h http.Header, name, v string) {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ReplaceAll(v, ";", "%3B"))
	var pairs []string
	for _, kv := range cookiePairs(h) {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			pairs = append(pairs, kv)
		}
	}
	h.Set("Cookie", strings.Join(append(pairs, name+"="+v), "; "))
}

// reservedCookie reports whether a cookie declared as a parameter is one
// the probes leave alone: a session or CSRF cookie carries the identity.
func reservedCookie(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"sess", "sid", "csrf", "xsrf", "auth", "jwt"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return scan.SecretName(scan.NormField(name))
}

// points returns the injectable values of p, in a stable order: path
// parameters, query parameters (those p carries, then declared string
// ones it leaves out), headers declared as parameters (`in: header`,
// strings, not credentials), cookies declared as parameters (`in:
// cookie`, strings, not session or CSRF cookies), top-level body strings, then strings nested
// in body objects and arrays (depth ≤ 4, the first item of each array, at
// most maxNestedPoints). Each carries its declared schema when the spec
// has one.
func points(p *scan.Prepared) []point {
	var out []point
	declared := map[string]*base.Schema{} // in + "\x00" + name
	var extraQuery, headers, cookies []string
	if p.Op != nil {
		for _, prm := range openapi.Params(p.Op) {
			if prm == nil {
				continue
			}
			in := strings.ToLower(prm.In)
			s := scan.SchemaOf(prm.Schema)
			declared[in+"\x00"+prm.Name] = s
			switch {
			case in == "query" && !p.Query.Has(prm.Name) && freeString(s, false):
				extraQuery = append(extraQuery, prm.Name)
			case in == "header" && !reservedHeader(prm.Name) && (s == nil || hasType(s, "string")) && (s == nil || len(s.Enum) == 0):
				headers = append(headers, prm.Name)
			case in == "cookie" && !reservedCookie(prm.Name) && (s == nil || hasType(s, "string")) && (s == nil || len(s.Enum) == 0):
				cookies = append(cookies, prm.Name)
			}
		}
	}
	for _, k := range sortedKeys(p.Path) {
		out = append(out, point{in: "path", name: k, orig: p.Path[k], schema: declared["path\x00"+k]})
	}
	qs := make([]string, 0, len(p.Query))
	for k := range p.Query {
		qs = append(qs, k)
	}
	sort.Strings(qs)
	for _, k := range qs {
		out = append(out, point{in: "query", name: k, orig: p.Query.Get(k), schema: declared["query\x00"+k]})
	}
	sort.Strings(extraQuery)
	for _, k := range extraQuery {
		out = append(out, point{in: "query", name: k, orig: "ghscan", schema: declared["query\x00"+k]})
	}
	sort.Strings(headers)
	for _, k := range headers {
		v := p.Header.Get(k)
		if v == "" {
			v = "ghscan"
		}
		out = append(out, point{in: "header", name: k, orig: v, schema: declared["header\x00"+k]})
	}
	sort.Strings(cookies)
	for _, k := range cookies {
		v := cookieValue(p.Header, k)
		if v == "" {
			v = "ghscan"
		}
		out = append(out, point{in: "cookie", name: k, orig: v, schema: declared["cookie\x00"+k]})
	}
	var bs *base.Schema
	if p.Op != nil {
		bs = bodySchema(p.Op)
	}
	body := p.BodyMap()
	for _, k := range sortedKeys(body) {
		if s, ok := body[k].(string); ok {
			out = append(out, point{in: "body", name: k, orig: s, schema: propSchema(bs, k)})
		}
	}
	nested := 0
	var walk func(v any, s *base.Schema, name string, path []any, depth int)
	walk = func(v any, s *base.Schema, name string, path []any, depth int) {
		if depth > 4 || nested >= maxNestedPoints {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k], propSchema(s, k), name+"."+k, append(append([]any(nil), path...), k), depth+1)
			}
		case []any:
			if len(x) > 0 {
				walk(x[0], itemSchema(s), name+"[0]", append(append([]any(nil), path...), 0), depth+1)
			}
		case string:
			if _, inArray := path[0].(int); len(path) > 1 || inArray {
				out = append(out, point{in: "body", name: strings.TrimPrefix(name, "."), orig: x, path: path, schema: s})
				nested++
			}
		}
	}
	walk(p.Body, bs, "", nil, 0)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// propSchema returns the schema of property k of object schema s (nil
// when unknown).
func propSchema(s *base.Schema, k string) *base.Schema {
	if s == nil || s.Properties == nil {
		return nil
	}
	return scan.SchemaOf(s.Properties.GetOrZero(k))
}

// itemSchema returns the item schema of array schema s (nil when unknown).
func itemSchema(s *base.Schema) *base.Schema {
	if s == nil || s.Items == nil || !s.Items.IsA() {
		return nil
	}
	return scan.SchemaOf(s.Items.A)
}

// injectable lists the operations injection probes may send: not DELETE,
// not logout, a method the scan allows.
func injectable(t *scan.Target) []*openapi.Operation {
	return ops(t, func(op *openapi.Operation) bool {
		return op.Method != http.MethodDelete && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	})
}

// prepareInjection prepares op for its injection probes as its actor. A
// PUT or PATCH on an object path is aimed at the actor's own object (one
// it created or its own record, for every path parameter): probes rewrite
// what they target, so never another's or a shared object; ok is false
// when the actor owns nothing there.
func prepareInjection(t *scan.Target, op *openapi.Operation) (who *scan.Identity, p *scan.Prepared, ok bool) {
	who = actor(t, op)
	p = t.Prepare(op, who)
	if op.Method != http.MethodPut && op.Method != http.MethodPatch {
		return who, p, true
	}
	for name := range p.Path {
		own := t.OwnedParam(op, name, who)
		if len(own) == 0 {
			return who, p, false
		}
		if !contains(own, p.Path[name]) {
			p.Path[name] = own[0]
		}
	}
	return who, p, true
}

// fresh returns a newly prepared request for op as who (new unique values,
// so repeated creates do not collide) aimed at p0's path.
func fresh(t *scan.Target, p0 *scan.Prepared, who *scan.Identity) *scan.Prepared {
	p := t.Prepare(p0.Op, who)
	for k, v := range p0.Path {
		p.Path[k] = v
	}
	return p
}
