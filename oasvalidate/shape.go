package oasvalidate

import (
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Shape is the compiled structure of a schema that the gateway walks at
// request and response time: which object properties are declared (across
// allOf/anyOf/oneOf and $ref, cycles included), what array items look like,
// and which strings are free-form. It answers "is this property declared?"
// and "may this string carry anything?"; type and range checks are the JSON
// Schema validator's job. A Shape is immutable once compiled and safe for
// concurrent use. The nil *Shape means "no schema": everything is undeclared.
type Shape struct {
	props    map[string]*Shape
	patterns []patternShape
	addl     *Shape // additionalProperties as a schema
	addlOpen bool   // additionalProperties: true (explicit) or a schema
	declares bool   // has properties, patternProperties or additionalProperties
	items    *Shape
	prefix   []*Shape
	alts     []*Shape // allOf/anyOf/oneOf/then/else branches
	allOf    []*Shape
	choices  [][]*Shape // anyOf and oneOf groups
	cond     []*Shape   // then/else: always part of the union
	// groups are the anyOf/oneOf groups with what Select needs to pick a
	// branch (set only with ShapeOptions.Branches).
	groups []*choiceGroup

	// own: this schema itself limits strings by pattern, enum, format or const.
	own bool

	// constrained: the schema limits strings by pattern, enum, format or const.
	constrained bool
	// shell: marked x-gatehouse-shell: true (shell metacharacters are checked).
	shell bool
	// path: marked x-gatehouse-path: true (path traversal is checked).
	path bool
	// ident: x-gatehouse-identifier: true (+1) or false (-1), 0 when absent.
	ident int8
	// short: this schema itself bounds strings to maxLength <= ShortIdentifier.
	short bool
	// readOnly / writeOnly: the schema itself says so (see ReadOnly, WriteOnly).
	readOnly, writeOnly bool
	// types is the schema's own `type` list (Types).
	types []string

	// Computed by finish over the allOf/anyOf/oneOf closure:
	all       []*Shape
	open      bool
	merged    map[string][]*Shape
	hasChoice bool // some schema in the closure has a selectable anyOf/oneOf

	// views caches Select's result per sequence of branch decisions (the
	// decisions depend on the schema only, so the cache is bounded).
	viewMu sync.RWMutex
	views  map[string]*Shape
}

// maxViews bounds the per-shape cache of selected views.
const maxViews = 256

// choiceGroup is one anyOf or oneOf with its branch validators and the
// discriminator declared beside it.
type choiceGroup struct {
	oneOf    bool
	branches []*Shape
	valid    []*jsonschema.Schema // per branch; nil: cannot be tested
	discProp string               // discriminator.propertyName
	disc     map[string]int       // discriminator value → branch index (mapping, then schema names)
}

// ShapeOptions configure a ShapeCache.
type ShapeOptions struct {
	// Branches compiles each anyOf/oneOf branch (for Purpose) so that
	// Select can test which branches a value matches. Nil: no selection
	// (Select keeps the union). A branch that does not compile is left
	// untestable (Select falls back to the union), not an error.
	Branches *SchemaSet
	Purpose  Purpose
}

// ShapeCache compiles the shapes of one document, each schema once, shared
// by every operation and status that references it. Safe for concurrent use.
type ShapeCache struct {
	mu   sync.Mutex
	c    *shapeCompiler
	done int
}

// shapeCaches maps (document, kind) to the document's ShapeCache for that
// kind; like schemaSets, the key is a weak pointer: it does not keep the
// document alive and never matches a later document at the same address.
var shapeCaches sync.Map // shapeKey → *ShapeCache

type shapeKey struct {
	doc  weak.Pointer[v3.Document]
	kind string
}

// ShapesFor returns the ShapeCache of doc for kind, created with opts() on
// first use and shared by every later caller with the same document and
// kind: a pipeline rebuilt on an unchanged spec (openapi.Cache returns the
// same document) reuses every shape instead of compiling them again. kind
// must identify opts completely (opts may only depend on doc).
func ShapesFor(doc *v3.Document, kind string, opts func() ShapeOptions) *ShapeCache {
	key := shapeKey{weak.Make(doc), kind}
	if sc, ok := shapeCaches.Load(key); ok {
		return sc.(*ShapeCache)
	}
	sc, loaded := shapeCaches.LoadOrStore(key, NewShapeCache(SchemasFor(doc), opts()))
	if !loaded && doc != nil {
		runtime.AddCleanup(doc, func(k shapeKey) { shapeCaches.Delete(k) }, key)
	}
	return sc.(*ShapeCache)
}

// NewShapeCache returns an empty cache compiling the schemas of set's
// document with opts.
func NewShapeCache(set *SchemaSet, opts ShapeOptions) *ShapeCache {
	return &ShapeCache{c: &shapeCompiler{set: set, bySchema: map[any]*Shape{}, opts: opts}}
}

// Compile compiles the schema behind proxy (nil proxy: nil Shape), reusing
// every shape already compiled. anyOf/oneOf are the union of their branches
// unless the cache's options compile branch validators (see Select).
func (sc *ShapeCache) Compile(proxy *base.SchemaProxy) (*Shape, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	s, err := sc.c.top(proxy)
	for _, sh := range sc.c.list[sc.done:] {
		sh.finish()
	}
	sc.done = len(sc.c.list)
	if err != nil {
		return nil, err
	}
	return s, nil
}

type patternShape struct {
	re jsonschema.Regexp
	s  *Shape
}

type shapeCompiler struct {
	set      *SchemaSet     // the document's files, for $refs (shapenode.go)
	bySchema map[any]*Shape // by YAML node, or by rendered schema (proxy)
	list     []*Shape
	opts     ShapeOptions
	// rendered compiles from libopenapi's renderings (p.Schema()), as
	// before shapenode.go: the reference the tests compare shapes against.
	rendered bool
}

// top compiles the schema of a parameter, body or response from its YAML
// node; a proxy without one (built in memory) is read through libopenapi.
func (c *shapeCompiler) top(p *base.SchemaProxy) (*Shape, error) {
	if p == nil {
		return nil, nil
	}
	lp := p.GoLow()
	if c.rendered || c.set == nil || lp == nil || lp.GetValueNode() == nil || lp.GetIndex() == nil {
		return c.proxy(p)
	}
	return c.nodeAt(lp.GetValueNode(), absKey(lp.GetIndex().GetSpecAbsolutePath()))
}

// proxy compiles p from libopenapi's rendering of it (see top).
func (c *shapeCompiler) proxy(p *base.SchemaProxy) (*Shape, error) {
	if p == nil {
		return nil, nil
	}
	sch := p.Schema()
	if sch == nil {
		if err := p.GetBuildError(); err != nil {
			return nil, fmt.Errorf("build schema %q: %w", p.GetReference(), err)
		}
		return nil, nil
	}
	if s, ok := c.bySchema[sch]; ok {
		return s, nil
	}
	s := &Shape{}
	c.list = append(c.list, s)
	c.bySchema[sch] = s
	return s, c.fill(s, sch)
}

func (c *shapeCompiler) fill(s *Shape, sch *base.Schema) error {
	if sch.BooleanSchema != nil {
		if *sch.BooleanSchema {
			s.addlOpen, s.declares = true, true
		}
		return nil
	}
	s.own = sch.Pattern != "" || len(sch.Enum) > 0 || sch.Format != "" || sch.Const != nil
	s.types = sch.Type
	s.readOnly = sch.ReadOnly != nil && *sch.ReadOnly
	s.writeOnly = sch.WriteOnly != nil && *sch.WriteOnly
	if sch.Extensions != nil {
		if n, ok := sch.Extensions.Get("x-gatehouse-shell"); ok && n != nil && n.Value == "true" {
			s.shell = true
		}
		if n, ok := sch.Extensions.Get("x-gatehouse-path"); ok && n != nil && n.Value == "true" {
			s.path = true
		}
		if n, ok := sch.Extensions.Get("x-gatehouse-identifier"); ok && n != nil {
			switch n.Value {
			case "true":
				s.ident = 1
			case "false":
				s.ident = -1
			}
		}
	}
	s.short = sch.MaxLength != nil && *sch.MaxLength <= ShortIdentifier
	if sch.Properties != nil && sch.Properties.Len() > 0 {
		s.declares = true
		s.props = make(map[string]*Shape, sch.Properties.Len())
		for k, v := range sch.Properties.FromOldest() {
			ps, err := c.proxy(v)
			if err != nil {
				return fmt.Errorf("property %q: %w", k, err)
			}
			if ps == nil {
				ps = &Shape{}
				c.list = append(c.list, ps)
			}
			s.props[k] = ps
		}
	}
	if sch.PatternProperties != nil {
		for k, v := range sch.PatternProperties.FromOldest() {
			re, err := CompilePattern(k) // the ECMA-262 dialect, as validation
			if err != nil {
				continue // skipped, and reported by SchemaSet
			}
			ps, err := c.proxy(v)
			if err != nil {
				return err
			}
			s.patterns = append(s.patterns, patternShape{re: re, s: ps})
			s.declares = true
		}
	}
	if ap := sch.AdditionalProperties; ap != nil {
		s.declares = true
		if ap.IsA() {
			as, err := c.proxy(ap.A)
			if err != nil {
				return err
			}
			s.addl, s.addlOpen = as, true
		} else if ap.B {
			s.addlOpen = true
		}
	}
	if it := sch.Items; it != nil {
		if it.IsA() {
			is, err := c.proxy(it.A)
			if err != nil {
				return err
			}
			s.items = is
		}
	}
	for _, p := range sch.PrefixItems {
		ps, err := c.proxy(p)
		if err != nil {
			return err
		}
		s.prefix = append(s.prefix, ps)
	}
	for gi, group := range [][]*base.SchemaProxy{sch.AllOf, sch.AnyOf, sch.OneOf, {sch.Then, sch.Else}} {
		var members []*Shape
		for _, p := range group {
			if p == nil {
				continue
			}
			as, err := c.proxy(p)
			if err != nil {
				return err
			}
			if as != nil {
				s.alts = append(s.alts, as)
				members = append(members, as)
			} else {
				members = append(members, &Shape{}) // unbuildable branch: unconstrained
			}
		}
		c.addGroup(s, gi, members, func() *choiceGroup { return c.group(sch, group, members, gi == 2) })
	}
	return nil
}

// addGroup records the members of group gi of s (0 allOf, 1 anyOf, 2
// oneOf, 3 then/else); choice builds an anyOf/oneOf's selection data, when
// the options compile branch validators.
func (c *shapeCompiler) addGroup(s *Shape, gi int, members []*Shape, choice func() *choiceGroup) {
	switch gi {
	case 0:
		s.allOf = members
	case 1, 2:
		if len(members) > 0 {
			s.choices = append(s.choices, members)
			if c.opts.Branches != nil {
				s.groups = append(s.groups, choice())
			}
		}
	case 3:
		s.cond = members
	}
}

// group compiles the selection data of one anyOf/oneOf: the discriminator
// (explicit mapping first, then the branches' schema names) or, without one,
// a validator per branch.
func (c *shapeCompiler) group(sch *base.Schema, proxies []*base.SchemaProxy, members []*Shape, oneOf bool) *choiceGroup {
	g := &choiceGroup{oneOf: oneOf, branches: members} // members[i] is the i-th non-nil proxy
	var live []*base.SchemaProxy
	for _, p := range proxies {
		if p != nil {
			live = append(live, p)
		}
	}
	if d := sch.Discriminator; d != nil && d.PropertyName != "" {
		var mapping [][2]string
		if d.Mapping != nil {
			for val, target := range d.Mapping.FromOldest() {
				mapping = append(mapping, [2]string{val, target})
			}
		}
		refs := make([]string, len(live))
		for i, p := range live {
			refs[i] = p.GetReference()
		}
		g.discProp, g.disc = d.PropertyName, discriminate(mapping, refs)
		return g
	}
	g.valid = make([]*jsonschema.Schema, len(live))
	for i, p := range live {
		if v, err := c.opts.Branches.Compile(p, c.opts.Purpose); err == nil {
			g.valid[i] = v
		}
	}
	return g
}

// finish computes the closure over alternatives and the merged property index.
func (s *Shape) finish() {
	seen := map[*Shape]bool{}
	var walk func(x *Shape)
	walk = func(x *Shape) {
		if x == nil || seen[x] {
			return
		}
		seen[x] = true
		s.all = append(s.all, x)
		for _, a := range x.alts {
			walk(a)
		}
	}
	walk(s)
	declares := false
	for _, x := range s.all {
		if len(x.groups) > 0 {
			s.hasChoice = true
		}
		if x.addlOpen {
			s.open = true
		}
		if x.declares {
			declares = true
		}
		s.shell = s.shell || x.shell
		s.path = s.path || x.path
		for k, v := range x.props {
			if s.merged == nil {
				s.merged = map[string][]*Shape{}
			}
			s.merged[k] = append(s.merged[k], v)
		}
	}
	s.constrained = constrainedOf(s, map[*Shape]bool{})
	// A schema that declares no properties at all ({} or type: object with
	// nothing else) is a free-form object.
	if !declares {
		s.open = true
	}
}

// constrainedOf reports whether every value x accepts is limited by a
// pattern, enum, format or const: its own keywords, any allOf member, or every
// branch of an anyOf/oneOf group. One free branch keeps the string free.
func constrainedOf(x *Shape, seen map[*Shape]bool) bool {
	if x == nil || seen[x] {
		return false
	}
	seen[x] = true
	defer delete(seen, x)
	if x.own {
		return true
	}
	for _, a := range x.allOf {
		if constrainedOf(a, seen) {
			return true
		}
	}
	for _, g := range x.choices {
		all := true
		for _, m := range g {
			if !constrainedOf(m, seen) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// lookup returns the shapes that declare key in any of ss, and whether key
// is allowed (declared, matched by patternProperties, or the object is open).
func lookup(ss []*Shape, key string) (children []*Shape, allowed bool) {
	if len(ss) == 0 {
		return nil, true // no schema here: nothing to compare against
	}
	for _, s := range ss {
		if s == nil {
			continue
		}
		if c, ok := s.merged[key]; ok {
			if len(ss) == 1 {
				return c, true
			}
			children = append(children, c...)
			allowed = true
			continue
		}
		for _, x := range s.all {
			for _, p := range x.patterns {
				if p.re.MatchString(key) {
					children = append(children, p.s)
					allowed = true
				}
			}
		}
	}
	if allowed {
		return children, true
	}
	for _, s := range ss {
		if s == nil {
			continue
		}
		for _, x := range s.all {
			if x.addl != nil {
				children = append(children, x.addl)
			}
		}
		if s.open {
			allowed = true
		}
	}
	return children, allowed
}

// ReadOnly reports whether a property with shapes ss (as returned by Lookup)
// is readOnly: the property schema or a schema of its allOf/anyOf/oneOf
// closure ($ref followed) says readOnly: true. A request must not set it.
func ReadOnly(ss []*Shape) bool { return anyFlag(ss, func(x *Shape) bool { return x.readOnly }) }

// WriteOnly is ReadOnly for writeOnly: a response must not carry it.
func WriteOnly(ss []*Shape) bool { return anyFlag(ss, func(x *Shape) bool { return x.writeOnly }) }

func anyFlag(ss []*Shape, f func(*Shape) bool) bool {
	for _, s := range ss {
		if s == nil {
			continue
		}
		if f(s) {
			return true
		}
		for _, x := range s.all {
			if f(x) {
				return true
			}
		}
	}
	return false
}

// elems returns the shapes of array element i.
func elems(ss []*Shape, i int) []*Shape {
	var out []*Shape
	for _, s := range ss {
		if s == nil {
			continue
		}
		for _, x := range s.all {
			if i < len(x.prefix) {
				out = append(out, x.prefix[i])
			} else if x.items != nil {
				out = append(out, x.items)
			}
		}
	}
	return out
}

// anyOpen reports whether an object described by ss accepts undeclared keys.
// No shape at all (ss empty) is open: there is nothing to compare against.
func anyOpen(ss []*Shape) bool {
	if len(ss) == 0 {
		return true
	}
	for _, s := range ss {
		if s == nil || s.open {
			return true
		}
	}
	return false
}

func anyConstrained(ss []*Shape) bool {
	for _, s := range ss {
		if s != nil && s.constrained {
			return true
		}
	}
	return false
}

// ShortIdentifier is the largest maxLength that makes a query parameter an
// identifier for injection detection (see identifier).
const ShortIdentifier = 64

// Where a string value was found, for identifier.
const (
	inPath = iota
	inQuery
	inBody
)

// identifier reports whether a string found at where should be a plain
// identifier, checked with the strict SQL grammar (inspect.SQLGrammar):
// a path parameter unless its schema says x-gatehouse-identifier: false; a
// query parameter whose schema says x-gatehouse-identifier: true or bounds
// it to maxLength <= ShortIdentifier (and does not say false); a body
// string only when marked x-gatehouse-identifier: true.
func identifier(ss []*Shape, where int) bool {
	yes, no, short := false, false, false
	for _, s := range ss {
		if s == nil {
			continue
		}
		yes = yes || s.ident > 0
		no = no || s.ident < 0
		short = short || s.short
	}
	switch {
	case no:
		return false
	case yes || where == inPath:
		return true
	case where == inQuery:
		return short
	}
	return false
}

func anyShell(ss []*Shape) bool {
	for _, s := range ss {
		if s != nil && s.shell {
			return true
		}
	}
	return false
}

func anyPath(ss []*Shape) bool {
	for _, s := range ss {
		if s != nil && s.path {
			return true
		}
	}
	return false
}

// Lookup returns the shapes that describe property key of an object
// described by ss, and whether the key is allowed there (declared, matched
// by patternProperties, or the object is open).
func Lookup(ss []*Shape, key string) ([]*Shape, bool) { return lookup(ss, key) }

// Elems returns the shapes that describe element i of an array described by ss.
func Elems(ss []*Shape, i int) []*Shape { return elems(ss, i) }

// Open reports whether an object described by ss accepts undeclared
// properties: additionalProperties true or a schema, a schema that declares no
// properties at all, or no schema.
func Open(ss []*Shape) bool { return anyOpen(ss) }

// Select narrows the shapes of an object value to the anyOf/oneOf branches
// it belongs to: the branch its discriminator property names (mapping or
// schema name) or, without a discriminator, the first branch it validates
// against for oneOf and every matching branch for anyOf. allOf members and
// the schemas' own properties always apply. Where no branch can be chosen
// (no match, unknown discriminator value, untestable branch), the group
// keeps the union of its branches and fellBack is true. Shapes compiled
// without ShapeOptions.Validate, or without anyOf/oneOf, come back as they
// are (no allocation).
func Select(ss []*Shape, obj map[string]any) (out []*Shape, fellBack bool) {
	need := false
	for _, s := range ss {
		if s != nil && s.hasChoice {
			need = true
			break
		}
	}
	if !need {
		return ss, false
	}
	out = make([]*Shape, 0, len(ss))
	for _, s := range ss {
		if s == nil || !s.hasChoice {
			out = append(out, s)
			continue
		}
		var flat []*Shape
		var key []byte
		if s.collect(obj, &flat, &key) {
			fellBack = true
		}
		out = append(out, s.cachedView(key, flat))
	}
	return out, fellBack
}

// cachedView returns the view for the decision sequence key, building it
// from flat on a miss.
func (s *Shape) cachedView(key []byte, flat []*Shape) *Shape {
	s.viewMu.RLock()
	v := s.views[string(key)]
	s.viewMu.RUnlock()
	if v != nil {
		return v
	}
	v = view(flat)
	s.viewMu.Lock()
	if s.views == nil {
		s.views = map[string]*Shape{}
	}
	if len(s.views) < maxViews {
		s.views[string(key)] = v
	}
	s.viewMu.Unlock()
	return v
}

func contains(flat []*Shape, x *Shape) bool {
	for _, f := range flat {
		if f == x {
			return true
		}
	}
	return false
}

// collect adds x and the schemas that apply to obj under x to flat, and
// each group's decision to key; it reports whether some group fell back to
// the union. The traversal order depends on the schema and the decisions
// only, so key identifies flat.
func (x *Shape) collect(obj map[string]any, flat *[]*Shape, key *[]byte) bool {
	if x == nil || contains(*flat, x) {
		return false
	}
	*flat = append(*flat, x)
	fell := false
	for _, a := range x.allOf {
		fell = a.collect(obj, flat, key) || fell
	}
	for _, a := range x.cond {
		fell = a.collect(obj, flat, key) || fell
	}
	if x.groups == nil {
		for _, g := range x.choices {
			for _, b := range g {
				fell = b.collect(obj, flat, key) || fell
			}
		}
		return fell
	}
	for _, g := range x.groups {
		picked := g.pick(obj)
		if picked == nil {
			fell = true
			*key = append(*key, 0xFF)
			for _, b := range g.branches {
				fell = b.collect(obj, flat, key) || fell
			}
			continue
		}
		for _, i := range picked {
			*key = append(*key, byte(i))
		}
		*key = append(*key, 0xFE)
		for _, i := range picked {
			fell = g.branches[i].collect(obj, flat, key) || fell
		}
	}
	return fell
}

// pick returns the indexes of the branches obj belongs to, or nil.
func (g *choiceGroup) pick(obj map[string]any) []int {
	if g.discProp != "" {
		v, ok := obj[g.discProp].(string)
		if !ok {
			return nil
		}
		if i, ok := g.disc[v]; ok {
			return []int{i}
		}
		return nil
	}
	var out []int
	for i, v := range g.valid {
		if v == nil {
			return nil // an untestable branch might be the one: keep the union
		}
		if v.Validate(obj) == nil {
			out = append(out, i)
			if g.oneOf {
				break
			}
		}
	}
	return out
}

// view is a Shape whose closure is exactly flat (no further alternatives).
func view(flat []*Shape) *Shape {
	v := &Shape{all: flat}
	declares := false
	for _, x := range flat {
		if x.addlOpen {
			v.open = true
		}
		if x.declares {
			declares = true
		}
		for k, p := range x.props {
			if v.merged == nil {
				v.merged = map[string][]*Shape{}
			}
			v.merged[k] = append(v.merged[k], p)
		}
	}
	if !declares {
		v.open = true
	}
	return v
}

// Types returns the schema's own `type` list (nil: none; a $ref is the
// type of its target).
func (s *Shape) Types() []string {
	if s == nil {
		return nil
	}
	return s.types
}
