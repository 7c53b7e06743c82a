package oasvalidate

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
)

// Shapes compiled from RenderSchema's renderings (which libopenapi does not
// keep) must be the shapes compiled from libopenapi's own cached renderings,
// field by field, for every schema an operation uses: the request validator
// and the response filter then accept, refuse and strip exactly as before.
// The shared real-world documents are included when present.
func TestRenderedShapesEqualCached(t *testing.T) {
	specs := []string{
		"testdata/users30.yaml", "testdata/forms30.yaml", "testdata/forms31.yaml",
		"testdata/items31.yaml", "testdata/identifiers31.yaml", "testdata/patterns/patterns.yaml",
		"../respfilter/testdata/pets30.yaml", "../respfilter/testdata/pets31.yaml",
		"../respfilter/testdata/users30.yaml", "../respfilter/testdata/items31.yaml",
		"../openapi/testdata/multi/openapi.yaml", "../openapi/testdata/regress/leftovers-31.yaml",
		"../examples/demo/openapi.yaml",
	}
	if !testing.Short() {
		for _, f := range []string{"../../shared/specs/openai/openapi.yaml",
			"../../shared/specs/digitalocean/specification/DigitalOcean-public.v2.yaml"} {
			if _, err := os.Stat(f); err == nil {
				specs = append(specs, f)
			}
		}
	}
	for _, file := range specs {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			s, err := openapi.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			set := NewSchemaSet(openapi.Model(s))
			opts := ShapeOptions{ValidateProxy: func(p *base.SchemaProxy) (*jsonschema.Schema, error) {
				return set.Compile(p, PurposeResponse)
			}}
			// The fresh compiler goes first, so that it cannot profit from
			// renderings libopenapi cached for the reference.
			end := BeginRender()
			fresh := &ShapeCache{c: &shapeCompiler{byRef: map[string]*Shape{}, bySchema: map[any]*Shape{}, opts: opts}}
			cached := &ShapeCache{c: &shapeCompiler{byRef: map[string]*Shape{}, bySchema: map[any]*Shape{}, opts: opts, cached: true}}
			n := 0
			for _, op := range s.Operations {
				for _, p := range operationSchemas(op) {
					a, errA := fresh.Compile(p)
					b, errB := cached.Compile(p)
					if (errA == nil) != (errB == nil) {
						t.Fatalf("%s: rendered error %v, cached error %v", op.ID, errA, errB)
					}
					if err := sameShape(a, b, map[[2]*Shape]bool{}, ""); err != nil {
						t.Fatalf("%s: %v", op.ID, err)
					}
					n++
				}
			}
			end()
			if n == 0 {
				t.Fatal("no schema compared")
			}
		})
	}
}

// operationSchemas lists the schemas of op's parameters, request bodies
// and responses.
func operationSchemas(op *openapi.Operation) []*base.SchemaProxy {
	var out []*base.SchemaProxy
	for _, p := range openapi.Params(op) {
		if p.Schema != nil {
			out = append(out, p.Schema)
		}
	}
	if rb := openapi.Op(op).RequestBody; rb != nil && rb.Content != nil {
		for _, m := range rb.Content.FromOldest() {
			if m != nil && m.Schema != nil {
				out = append(out, m.Schema)
			}
		}
	}
	if openapi.Op(op).Responses != nil {
		var rs []*v3.Response
		if openapi.Op(op).Responses.Codes != nil {
			for _, r := range openapi.Op(op).Responses.Codes.FromOldest() {
				rs = append(rs, r)
			}
		}
		rs = append(rs, openapi.Op(op).Responses.Default)
		for _, r := range rs {
			if r == nil || r.Content == nil {
				continue
			}
			for _, m := range r.Content.FromOldest() {
				if m != nil && m.Schema != nil {
					out = append(out, m.Schema)
				}
			}
		}
	}
	return out
}

// sameShape reports whether two shape graphs are equivalent (cycles
// included): the same flags, properties, patterns, items and branch lists,
// field by field. The closure over alternatives (all, merged) is compared
// as a set: a compiler that shares one shape between two references to the
// same YAML node, where libopenapi's copies made two equal ones, lists it
// once. Compiled branch validators are compared by presence.
func sameShape(a, b *Shape, seen map[[2]*Shape]bool, at string) error {
	if (a == nil) != (b == nil) {
		return fmt.Errorf("%s: one shape is nil (%v, %v)", at, a == nil, b == nil)
	}
	if a == nil || seen[[2]*Shape{a, b}] {
		return nil
	}
	seen[[2]*Shape{a, b}] = true
	if fa, fb := fingerprint(a), fingerprint(b); fa != fb {
		return fmt.Errorf("%s: %s, want %s", at, fa, fb)
	}
	for k, v := range a.props {
		if err := sameShape(v, b.props[k], seen, at+"/"+k); err != nil {
			return err
		}
	}
	for i := range a.patterns {
		if a.patterns[i].re.String() != b.patterns[i].re.String() {
			return fmt.Errorf("%s: pattern %q, want %q", at, a.patterns[i].re, b.patterns[i].re)
		}
		if err := sameShape(a.patterns[i].s, b.patterns[i].s, seen, at+"/pattern"); err != nil {
			return err
		}
	}
	pairs := [][2]*Shape{{a.addl, b.addl}, {a.items, b.items}}
	lists := [][2][]*Shape{{a.prefix, b.prefix}, {a.alts, b.alts}, {a.allOf, b.allOf}, {a.cond, b.cond}}
	for i := range a.choices {
		if len(a.choices[i]) != len(b.choices[i]) {
			return fmt.Errorf("%s: choice %d has %d branches, want %d", at, i, len(a.choices[i]), len(b.choices[i]))
		}
		lists = append(lists, [2][]*Shape{a.choices[i], b.choices[i]})
	}
	for i, g := range a.groups {
		h := b.groups[i]
		if g.oneOf != h.oneOf || g.discProp != h.discProp || fmt.Sprint(g.disc) != fmt.Sprint(h.disc) ||
			len(g.valid) != len(h.valid) || len(g.branches) != len(h.branches) {
			return fmt.Errorf("%s: group %d differs", at, i)
		}
		for j := range g.valid {
			if (g.valid[j] == nil) != (h.valid[j] == nil) {
				return fmt.Errorf("%s: group %d branch %d validator presence differs", at, i, j)
			}
		}
		lists = append(lists, [2][]*Shape{g.branches, h.branches})
	}
	for _, l := range lists {
		if len(l[0]) != len(l[1]) {
			return fmt.Errorf("%s: list lengths %d, %d", at, len(l[0]), len(l[1]))
		}
		for i := range l[0] {
			pairs = append(pairs, [2]*Shape{l[0][i], l[1][i]})
		}
	}
	for i, p := range pairs {
		if err := sameShape(p[0], p[1], seen, fmt.Sprintf("%s/%d", at, i)); err != nil {
			return err
		}
	}
	if err := sameSet(a.all, b.all, seen, at+"/all"); err != nil {
		return err
	}
	for k, v := range a.merged {
		if err := sameSet(v, b.merged[k], seen, at+"/merged/"+k); err != nil {
			return err
		}
	}
	return nil
}

// sameSet reports whether every shape of a has an equivalent in b and the
// other way round (candidates are narrowed by fingerprint, then compared
// with a copy of seen so that a failed candidate leaves no assumption).
func sameSet(a, b []*Shape, seen map[[2]*Shape]bool, at string) error {
	covered := func(xs, ys []*Shape, flip bool) error {
		for _, x := range xs {
			ok := false
			for _, y := range ys {
				if fingerprint(x) != fingerprint(y) {
					continue
				}
				trial := maps.Clone(seen)
				var err error
				if flip {
					err = sameShape(y, x, trial, at)
				} else {
					err = sameShape(x, y, trial, at)
				}
				if err == nil {
					ok = true
					break
				}
			}
			if !ok {
				return fmt.Errorf("%s: no equivalent for %s", at, fingerprint(x))
			}
		}
		return nil
	}
	if err := covered(a, b, false); err != nil {
		return err
	}
	return covered(b, a, true)
}

// fingerprint is a shape's own fields, without the closure's sizes.
func fingerprint(s *Shape) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprint(s.addlOpen, s.declares, s.own, s.constrained, s.shell, s.path, s.ident, s.short,
		s.readOnly, s.writeOnly, s.open, s.hasChoice, keys(s.props), len(s.patterns), s.addl == nil,
		s.items == nil, len(s.prefix), len(s.alts), len(s.allOf), len(s.choices), len(s.cond), len(s.groups),
		slices.Sorted(maps.Keys(s.merged)))
}

func keys(m map[string]*Shape) []string {
	return slices.Sorted(maps.Keys(m))
}
