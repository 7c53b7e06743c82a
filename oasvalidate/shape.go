package oasvalidate

import (
	"fmt"
	"regexp"

	"github.com/pb33f/libopenapi/datamodel/high/base"
)

// Shape is the compiled structure of a schema that the gateway walks at
// request and response time: which object properties are declared (across
// allOf/anyOf/oneOf and $ref, cycles included), what array items look like,
// and which strings are free-form. It answers "is this property declared?"
// and "may this string carry anything?"; type and range checks are the JSON
// Schema validator's job. A Shape is immutable after CompileShape and safe for
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

	// own: this schema itself limits strings by pattern, enum, format or const.
	own bool

	// constrained: the schema limits strings by pattern, enum, format or const.
	constrained bool
	// shell: marked x-gatehouse-shell: true (shell metacharacters are checked).
	shell bool
	// path: marked x-gatehouse-path: true (path traversal is checked).
	path bool

	// Computed by finish over the allOf/anyOf/oneOf closure:
	all    []*Shape
	open   bool
	merged map[string][]*Shape
}

type patternShape struct {
	re *regexp.Regexp
	s  *Shape
}

type shapeCompiler struct {
	byRef    map[string]*Shape
	bySchema map[*base.Schema]*Shape
	list     []*Shape
}

// CompileShape compiles the schema behind proxy (nil proxy: nil Shape).
func CompileShape(proxy *base.SchemaProxy) (*Shape, error) {
	c := &shapeCompiler{byRef: map[string]*Shape{}, bySchema: map[*base.Schema]*Shape{}}
	s, err := c.proxy(proxy)
	if err != nil {
		return nil, err
	}
	for _, sh := range c.list {
		sh.finish()
	}
	return s, nil
}

func refKey(p *base.SchemaProxy) string {
	ref := p.GetReference()
	if o := p.GetReferenceOrigin(); o != nil {
		return o.AbsoluteLocation + "|" + ref
	}
	return ref
}

func (c *shapeCompiler) proxy(p *base.SchemaProxy) (*Shape, error) {
	if p == nil {
		return nil, nil
	}
	var key string
	if p.IsReference() {
		key = refKey(p)
		if s, ok := c.byRef[key]; ok {
			return s, nil
		}
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
	if key != "" {
		c.byRef[key] = s
	}
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
	if sch.Extensions != nil {
		if n, ok := sch.Extensions.Get("x-gatehouse-shell"); ok && n != nil && n.Value == "true" {
			s.shell = true
		}
		if n, ok := sch.Extensions.Get("x-gatehouse-path"); ok && n != nil && n.Value == "true" {
			s.path = true
		}
	}
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
			re, err := regexp.Compile(k)
			if err != nil {
				continue // the JSON Schema validator reports bad patterns
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
		switch gi {
		case 0:
			s.allOf = members
		case 1, 2:
			if len(members) > 0 {
				s.choices = append(s.choices, members)
			}
		}
	}
	return nil
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
