package openapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pb33f/go-yaml"
)

// Errors returned by Spec.Match. All are expected outcomes, checked with errors.Is.
var (
	// ErrNotFound: no path template matches (404).
	ErrNotFound = errors.New("openapi: no matching route")
	// ErrMethodNotAllowed: a template matches but not with this method (405).
	// The error returned by Match is a *MethodNotAllowedError carrying the
	// allowed methods.
	ErrMethodNotAllowed = errors.New("openapi: method not allowed")
	// ErrBadPath: the raw path is malformed or ambiguous and is rejected
	// rather than guessed (400).
	ErrBadPath = errors.New("openapi: malformed or ambiguous path")
)

// MethodNotAllowedError is returned by Match when the path matches a
// template that has no operation for the method. It wraps
// ErrMethodNotAllowed; Allow is the value for the Allow response header.
type MethodNotAllowedError struct {
	Method string
	// Allow lists the template's methods in a fixed order (GET, PUT, POST,
	// DELETE, OPTIONS, HEAD, PATCH, TRACE, QUERY). The caller owns it.
	Allow []string
}

func (e *MethodNotAllowedError) Error() string {
	return fmt.Sprintf("openapi: method %q not allowed (allow: %s)", e.Method, strings.Join(e.Allow, ", "))
}

// Unwrap makes errors.Is(err, ErrMethodNotAllowed) true.
func (e *MethodNotAllowedError) Unwrap() error { return ErrMethodNotAllowed }

// Router matches requests to operations. It is built by Load, immutable,
// and safe for concurrent use.
type Router struct {
	root    *node
	maxSegs int
}

// Match is the result of a successful route match.
type Match struct {
	Operation *Operation
	// Params holds decoded path parameter values by name (nil when the
	// template has none). A value never contains '/', '\\', ';' or a
	// control character: such requests are rejected before matching.
	Params map[string]string
	// Path is the canonical decoded path that matched ("/users/a b").
	Path string
	// RawPath is Path re-encoded canonically ("/users/a%20b"): exactly what
	// the gateway forwards upstream, so gateway and upstream agree on the
	// resource. Matching RawPath again yields the same operation and params.
	RawPath string
}

// Match maps a request to an operation. rawPath is the request-target's path
// exactly as received (the part of r.RequestURI before '?', see
// RequestPath), never a pre-decoded r.URL.Path: the router owns
// canonicalization. A "?query" suffix is accepted and ignored. method is
// matched case-sensitively (RFC 9110): "get" is not "GET".
//
// Errors: ErrBadPath (400) when the path breaks the normalization policy
// (package doc) or matches two templates equally well; ErrNotFound (404);
// a *MethodNotAllowedError wrapping ErrMethodNotAllowed (405).
func (s *Spec) Match(method, rawPath string) (*Match, error) {
	if s == nil || s.router == nil {
		return nil, ErrNotFound
	}
	return s.router.match(method, rawPath)
}

type segKind uint8

const (
	segLiteral segKind = iota // "users"
	segParam                  // "{id}"
	segMixed                  // "{name}.{ext}", "v{version}", "{id}:cancel"
)

// part of a mixed segment: a literal (name == "") or a parameter. A
// parameter next to another parameter ("{id}{ext}") must be a string enum:
// enum holds its values, longest first, and the segment is split by them.
type part struct {
	lit, name string
	enum      []string
}

type tmplSeg struct {
	kind  segKind
	lit   string // segLiteral
	name  string // segParam
	parts []part // segMixed
	shape string // trie edge key for segParam/segMixed: parts with params as "{}"
}

type route struct {
	template string
	segs     []tmplSeg
	literals int // segLiteral count: the primary specificity
	mixed    int // segMixed count: the tie-breaker
	nparams  int
	ops      [9]*Operation // indexed like httpMethods
	allow    []string
	// byMethod[i], when set, is the route whose parameter names ops[i]
	// uses: a template that equals this one up to parameter names and has
	// other methods (common in converted Swagger 2.0) is merged here.
	byMethod [9]*route
}

type node struct {
	lit    map[string]*node
	params []*paramEdge
	route  *route // a template ends here
}

type paramEdge struct {
	seg   tmplSeg // the first template's segment with this shape
	child *node
}

// newRouter compiles the spec's path templates into a trie. It fails on
// templates that can never be matched unambiguously: empty or dot
// segments, duplicate parameter names, adjacent parameters ("{a}{b}"),
// unbalanced braces, and two templates that differ only in parameter names.
// Templates containing '?' or '#' (a query or fragment written into the
// path key, as some real specs do) cannot match a path and are left out of
// routing with a warning in Spec.Warnings.
func newRouter(s *Spec) (*Router, error) {
	r := &Router{root: &node{}}
	byTemplate := map[string][]*Operation{}
	for _, o := range s.Operations {
		byTemplate[o.Template] = append(byTemplate[o.Template], o)
	}
	routes := map[string]*route{}
	var order []*route
	var errs []error
	for _, o := range s.Operations {
		rt, ok := routes[o.Template]
		if !ok {
			if strings.ContainsAny(o.Template, "?#") {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: path template %q contains '?' or '#' and is not routable",
					s.where("/paths/"+escapePointer(o.Template)), o.Template))
				routes[o.Template] = nil
				continue
			}
			enums, err := pathEnums(byTemplate[o.Template])
			if err == nil {
				rt, err = compileTemplate(o.Template, enums)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.where("/paths/"+escapePointer(o.Template)), err))
				routes[o.Template] = nil
				continue
			}
			if !templateMatchable(rt) {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: path template %q has a literal that no accepted request can match (';', '\\', control or NFKC-unsafe character)",
					s.where("/paths/"+escapePointer(o.Template)), o.Template))
			}
			routes[o.Template] = rt
			order = append(order, rt)
		}
		if rt == nil {
			continue
		}
		rt.ops[slices.Index(httpMethods, o.Method)] = o
	}
	for _, rt := range order {
		for i, m := range httpMethods {
			if rt.ops[i] != nil {
				rt.allow = append(rt.allow, m)
			}
		}
		merged, err := r.insert(rt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.where("/paths/"+escapePointer(rt.template)), err))
		} else if merged != nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: path template %q is the same as %q up to parameter names; their methods differ, so requests are routed by method (%s vs %s)",
				s.where("/paths/"+escapePointer(rt.template)), rt.template, merged.template,
				strings.Join(rt.allow, ", "), strings.Join(methodsOf(merged, rt), ", ")))
		}
		r.maxSegs = max(r.maxSegs, len(rt.segs))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// pathEnums returns, for each path parameter of the operations (all on one
// template) declared as a string enum, its values sorted longest first.
// Operations that declare different enums for one name are an error: the
// router has one split per template.
func pathEnums(ops []*Operation) (map[string][]string, error) {
	var enums map[string][]string
	for _, o := range ops {
		for _, p := range Params(o) {
			if p == nil || p.In != "path" || p.Schema == nil {
				continue
			}
			sc := p.Schema.Schema()
			if sc == nil || len(sc.Enum) == 0 {
				continue
			}
			var vals []string
			for _, n := range sc.Enum {
				if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" || (n.Tag != "" && n.Tag != "!!str") {
					vals = nil // not an enum of non-empty strings
					break
				}
				vals = append(vals, n.Value)
			}
			if vals == nil {
				continue
			}
			slices.SortStableFunc(vals, func(a, b string) int { return len(b) - len(a) })
			vals = slices.Compact(vals)
			if prev, ok := enums[p.Name]; ok && !slices.Equal(prev, vals) {
				return nil, fmt.Errorf("operations of path template %q declare different enums for path parameter {%s}", o.Template, p.Name)
			}
			if enums == nil {
				enums = map[string][]string{}
			}
			enums[p.Name] = vals
		}
	}
	return enums, nil
}

func compileTemplate(t string, enums map[string][]string) (*route, error) {
	if t == "" || t[0] != '/' {
		return nil, fmt.Errorf("path template %q does not start with '/'", t)
	}
	rt := &route{template: t}
	seen := map[string]bool{}
	raw := strings.Split(t[1:], "/")
	for i, s := range raw {
		if s == "" && i != len(raw)-1 {
			return nil, fmt.Errorf("path template %q has an empty segment", t)
		}
		if s == "." || s == ".." {
			return nil, fmt.Errorf("path template %q has a dot segment", t)
		}
		seg, err := compileSegment(s, enums)
		if err != nil {
			return nil, fmt.Errorf("path template %q: %w", t, err)
		}
		names := []string{seg.name}
		if seg.kind == segMixed {
			names = names[:0]
			for _, p := range seg.parts {
				if p.name != "" {
					names = append(names, p.name)
				}
			}
		}
		for _, n := range names {
			if n == "" {
				continue
			}
			if seen[n] {
				return nil, fmt.Errorf("path template %q repeats parameter {%s}", t, n)
			}
			seen[n] = true
			rt.nparams++
		}
		switch seg.kind {
		case segLiteral:
			rt.literals++
		case segMixed:
			rt.mixed++
		}
		rt.segs = append(rt.segs, seg)
	}
	return rt, nil
}

// templateMatchable reports whether every literal of the template could
// equal a decoded request segment that the normalization policy accepts.
func templateMatchable(rt *route) bool {
	ok := func(lit string) bool {
		for i := 0; i < len(lit); i++ {
			if decodedBad(lit[i]) {
				return false
			}
		}
		return checkUnicode([]byte(lit)) == nil
	}
	for _, seg := range rt.segs {
		switch seg.kind {
		case segLiteral:
			if !ok(seg.lit) {
				return false
			}
		case segMixed:
			for _, p := range seg.parts {
				if p.name == "" && !ok(p.lit) {
					return false
				}
			}
		}
	}
	return true
}

func compileSegment(s string, enums map[string][]string) (tmplSeg, error) {
	if !strings.ContainsAny(s, "{}") {
		return tmplSeg{kind: segLiteral, lit: s}, nil
	}
	var parts []part
	var shape strings.Builder
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if cl := strings.IndexByte(rest, '}'); cl >= 0 && (open < 0 || cl < open) {
			return tmplSeg{}, fmt.Errorf("unbalanced '}' in segment %q", s)
		}
		if open < 0 {
			parts = append(parts, part{lit: rest})
			shape.WriteString(rest)
			break
		}
		if open > 0 {
			parts = append(parts, part{lit: rest[:open]})
			shape.WriteString(rest[:open])
		}
		cl := strings.IndexByte(rest[open:], '}')
		if cl < 0 {
			return tmplSeg{}, fmt.Errorf("unbalanced '{' in segment %q", s)
		}
		name := rest[open+1 : open+cl]
		if name == "" || strings.ContainsAny(name, "{}") {
			return tmplSeg{}, fmt.Errorf("bad parameter name in segment %q", s)
		}
		p := part{name: name}
		if len(parts) > 0 && parts[len(parts)-1].name != "" {
			// Adjacent parameters split only where one of them is a
			// string enum: its values are matched literally, longest first.
			prev := &parts[len(parts)-1]
			if prev.enum == nil && enums[prev.name] == nil && enums[name] == nil {
				return tmplSeg{}, fmt.Errorf("adjacent parameters in segment %q can never be split unambiguously (unless one of them is a string enum)", s)
			}
			if prev.enum == nil && enums[prev.name] != nil {
				prev.enum = enums[prev.name]
				writeEnumShape(&shape, prev.enum, true)
			}
			if prev.enum == nil {
				p.enum = enums[name]
			}
		}
		parts = append(parts, p)
		if p.enum != nil {
			writeEnumShape(&shape, p.enum, false)
		} else {
			shape.WriteString("{}")
		}
		rest = rest[open+cl+1:]
	}
	if len(parts) == 1 {
		return tmplSeg{kind: segParam, name: parts[0].name, shape: "{}"}, nil
	}
	return tmplSeg{kind: segMixed, parts: parts, shape: shape.String()}, nil
}

// writeEnumShape writes an enum parameter's trie key: "{=v1\x00v2}", so
// templates split by different enums are different edges. replace rewrites
// the "{}" just written for the same parameter.
func writeEnumShape(b *strings.Builder, enum []string, replace bool) {
	if replace {
		cur := b.String()
		b.Reset()
		b.WriteString(strings.TrimSuffix(cur, "{}"))
	}
	b.WriteString("{=" + strings.Join(enum, "\x00") + "}")
}

// insert adds rt to the trie. A template equal to another up to parameter
// names is merged into it when their methods are disjoint (merged is the
// route it joined) and is an error when they share a method.
func (r *Router) insert(rt *route) (merged *route, err error) {
	n := r.root
	for _, seg := range rt.segs {
		if seg.kind == segLiteral {
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := n.lit[seg.lit]
			if c == nil {
				c = &node{}
				n.lit[seg.lit] = c
			}
			n = c
			continue
		}
		var next *node
		for _, e := range n.params {
			if e.seg.shape == seg.shape {
				next = e.child
				break
			}
		}
		if next == nil {
			next = &node{}
			n.params = append(n.params, &paramEdge{seg: seg, child: next})
		}
		n = next
	}
	if old := n.route; old != nil {
		for i := range rt.ops {
			if rt.ops[i] != nil && old.ops[i] != nil {
				return nil, fmt.Errorf("path template %q is the same as %q up to parameter names and both have %s", rt.template, old.template, httpMethods[i])
			}
		}
		for i := range rt.ops {
			if rt.ops[i] != nil {
				old.ops[i], old.byMethod[i] = rt.ops[i], rt
			}
		}
		old.allow = old.allow[:0]
		for i, m := range httpMethods {
			if old.ops[i] != nil {
				old.allow = append(old.allow, m)
			}
		}
		return old, nil
	}
	n.route = rt
	return nil, nil
}

// methodsOf lists the methods of into that did not come from rt.
func methodsOf(into, rt *route) []string {
	var ms []string
	for i, m := range httpMethods {
		if into.ops[i] != nil && into.byMethod[i] != rt {
			ms = append(ms, m)
		}
	}
	return ms
}

// matchMixed reports how many ways (0, 1, or 2 meaning "more than one") the
// decoded segment s splits into the parts, each parameter non-empty. When
// vals is non-nil the first split's values are appended to it, in order.
func matchMixed(parts []part, s string, vals *[]string) int {
	if len(parts) == 0 {
		if s == "" {
			return 1
		}
		return 0
	}
	p := parts[0]
	if p.name == "" {
		if !strings.HasPrefix(s, p.lit) {
			return 0
		}
		return matchMixed(parts[1:], s[len(p.lit):], vals)
	}
	if p.enum != nil {
		// an enum parameter: its values are literals, the longest that
		// lets the rest match wins (".tar.gz" before ".gz").
		for _, v := range p.enum {
			if !strings.HasPrefix(s, v) {
				continue
			}
			before := 0
			if vals != nil {
				before = len(*vals)
				*vals = append(*vals, v)
			}
			if w := matchMixed(parts[1:], s[len(v):], vals); w > 0 {
				return w
			}
			if vals != nil {
				*vals = (*vals)[:before]
			}
		}
		return 0
	}
	if len(parts) == 1 {
		if s == "" {
			return 0
		}
		if vals != nil {
			*vals = append(*vals, s)
		}
		return 1
	}
	// a parameter is followed by a literal or by an enum parameter
	// (other adjacent params are refused at load): try every occurrence of
	// that literal, or of the enum's values longest first, the first value
	// that matches deciding.
	alts := []string{parts[1].lit}
	if parts[1].name != "" {
		alts = parts[1].enum
	}
	for _, next := range alts {
		if w := splitAt(parts, s, next, vals); w > 0 {
			return w
		}
	}
	return 0
}

// splitAt tries every split of s where parts[0] (a free parameter) ends
// right before an occurrence of next, which parts[1:] must then match.
func splitAt(parts []part, s, next string, vals *[]string) int {
	ways := 0
	for i := 1; i+len(next) <= len(s); i++ {
		if s[i:i+len(next)] != next {
			continue
		}
		var sub *[]string
		if vals != nil && ways == 0 {
			sub = vals
		}
		before := 0
		if sub != nil {
			before = len(*sub)
			*sub = append(*sub, s[:i])
		}
		w := matchMixed(parts[1:], s[i:], sub)
		if w == 0 && sub != nil {
			*sub = (*sub)[:before]
		}
		ways += w
		if ways > 1 {
			return 2
		}
	}
	return ways
}

// best tracks the most specific route found by the trie walk.
type best struct {
	rt        *route
	lit, mix  int
	tie       bool // another route scored the same
	ambiguous bool // rt's mixed segment split more than one way
}

func (r *Router) walk(n *node, segs []string, lit, mix int, amb bool, b *best) {
	if len(segs) == 0 {
		if n.route == nil {
			return
		}
		switch {
		case b.rt == nil || lit > b.lit || (lit == b.lit && mix > b.mix):
			*b = best{rt: n.route, lit: lit, mix: mix, ambiguous: amb}
		case lit == b.lit && mix == b.mix:
			b.tie = true
		}
		return
	}
	s := segs[0]
	if c := n.lit[s]; c != nil {
		r.walk(c, segs[1:], lit+1, mix, amb, b)
	}
	for _, e := range n.params {
		switch e.seg.kind {
		case segParam:
			if s != "" {
				r.walk(e.child, segs[1:], lit, mix, amb, b)
			}
		case segMixed:
			if w := matchMixed(e.seg.parts, s, nil); w > 0 {
				r.walk(e.child, segs[1:], lit, mix+1, amb || w > 1, b)
			}
		}
	}
}

func (r *Router) match(method, rawPath string) (*Match, error) {
	var buf [16]string
	segs, reencode, err := canonicalize(rawPath, buf[:0])
	if err != nil {
		return nil, err
	}
	if len(segs) > r.maxSegs {
		return nil, ErrNotFound
	}
	var b best
	r.walk(r.root, segs, 0, 0, false, &b)
	switch {
	case b.rt == nil:
		return nil, ErrNotFound
	case b.tie || b.ambiguous:
		return nil, ErrBadPath
	}
	rt := b.rt
	i := slices.Index(httpMethods, method)
	if i < 0 || rt.ops[i] == nil {
		return nil, &MethodNotAllowedError{Method: method, Allow: slices.Clone(rt.allow)}
	}
	m := &Match{Operation: rt.ops[i]}
	if src := rt.byMethod[i]; src != nil {
		rt = src // the parameter names of the template this method came from
	}
	if rt.nparams > 0 {
		m.Params = make(map[string]string, rt.nparams)
		var vals []string
		for j, seg := range rt.segs {
			switch seg.kind {
			case segParam:
				m.Params[seg.name] = segs[j]
			case segMixed:
				vals = vals[:0]
				matchMixed(seg.parts, segs[j], &vals)
				k := 0
				for _, p := range seg.parts {
					if p.name != "" {
						m.Params[p.name] = vals[k]
						k++
					}
				}
			}
		}
	}
	if !reencode {
		if i := strings.IndexByte(rawPath, '?'); i >= 0 {
			rawPath = rawPath[:i]
		}
		m.Path, m.RawPath = rawPath, rawPath
		return m, nil
	}
	n := len(segs)
	for _, s := range segs {
		n += len(s)
	}
	path := make([]byte, 0, n)
	raw := make([]byte, 0, n+n/2)
	for _, s := range segs {
		path = append(append(path, '/'), s...)
		raw = appendEscaped(append(raw, '/'), s)
	}
	m.Path, m.RawPath = string(path), string(raw)
	return m, nil
}
