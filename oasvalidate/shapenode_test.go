package oasvalidate

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
)

// Shapes compiled from the YAML nodes (shapenode.go) must be the shapes
// compiled from libopenapi's renderings of the same schemas, field by
// field, for every schema an operation uses: the request validator and the
// response filter then accept, refuse and strip exactly as before. The
// shared real-world documents are included when present.
func TestNodeShapesEqualRendered(t *testing.T) {
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
			opts := ShapeOptions{Branches: set, Purpose: PurposeResponse}
			fresh := NewShapeCache(set, opts)
			cached := &ShapeCache{c: &shapeCompiler{set: set, bySchema: map[any]*Shape{}, opts: opts, rendered: true}}
			n := 0
			cmp := &shapeCmp{known: map[string]int{}}
			for _, op := range s.Operations {
				for _, p := range operationSchemas(op) {
					a, errA := fresh.Compile(p)
					b, errB := cached.Compile(p)
					if (errA == nil) != (errB == nil) {
						t.Fatalf("%s: node error %v, rendered error %v", op.ID, errA, errB)
					}
					if err := cmp.same(a, b, map[[2]*Shape]bool{}, ""); err != nil {
						t.Fatalf("%s: %v", op.ID, err)
					}
					n++
				}
			}
			if n == 0 {
				t.Fatal("no schema compared")
			}
			for why, k := range cmp.known {
				t.Logf("%d schemas where libopenapi's rendering %s", k, why)
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

// same reports whether two shape graphs are equivalent (a bisimulation,
// cycles included): the same own fields, properties, patterns, items and
// branch lists, field by field; a compiler that shares one shape between
// two references to the same YAML node, where libopenapi's copies made two
// equal ones, compares equal. The fields finish derives (the closure over
// alternatives, open, constrained) are a function of the graph and are not
// compared. Compiled branch validators are compared by presence.
func (cmp *shapeCmp) same(a, b *Shape, seen map[[2]*Shape]bool, at string) error {
	if (a == nil) != (b == nil) {
		return fmt.Errorf("%s: one shape is nil (%v, %v)", at, a == nil, b == nil)
	}
	if a == nil || seen[[2]*Shape{a, b}] {
		return nil
	}
	seen[[2]*Shape{a, b}] = true
	if fa, fb := fingerprint(a), fingerprint(b); fa != fb {
		if why := cmp.divergence(a, b); why != "" {
			cmp.known[why]++
			return nil
		}
		return fmt.Errorf("%s: %s, want %s", at, fa, fb)
	}
	for k, v := range a.props {
		if err := cmp.same(v, b.props[k], seen, at+"/"+k); err != nil {
			return err
		}
	}
	for i := range a.patterns {
		if a.patterns[i].re.String() != b.patterns[i].re.String() {
			return fmt.Errorf("%s: pattern %q, want %q", at, a.patterns[i].re, b.patterns[i].re)
		}
		if err := cmp.same(a.patterns[i].s, b.patterns[i].s, seen, at+"/pattern"); err != nil {
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
		if fmt.Sprint(g.disc) != fmt.Sprint(h.disc) && discSuperset(g.disc, h.disc) {
			// In a 3.0 document libopenapi gives a branch written as a $ref
			// with sibling keywords no reference, so the discriminator does
			// not name it; OAS 3.0 ignores the siblings, the YAML reading
			// names the branch by its $ref.
			cmp.known["does not name a 3.0 $ref-with-siblings branch for the discriminator"]++
		} else if fmt.Sprint(g.disc) != fmt.Sprint(h.disc) {
			return fmt.Errorf("%s: group %d discriminator map %v, want %v", at, i, g.disc, h.disc)
		}
		if g.oneOf != h.oneOf || g.discProp != h.discProp ||
			len(g.valid) != len(h.valid) || len(g.branches) != len(h.branches) {
			return fmt.Errorf("%s: group %d differs: %v %q %v %d %d, want %v %q %v %d %d", at, i, g.oneOf, g.discProp, g.disc, len(g.valid), len(g.branches), h.oneOf, h.discProp, h.disc, len(h.valid), len(h.branches))
		}
		for j := range g.valid {
			if !cmp.anyValidator && (g.valid[j] == nil) != (h.valid[j] == nil) {
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
		if err := cmp.same(p[0], p[1], seen, fmt.Sprintf("%s/%d", at, i)); err != nil {
			return err
		}
	}
	return nil
}

// discSuperset reports whether the discriminator map a holds every entry
// of b (and more).
func discSuperset(a, b map[string]int) bool {
	if len(a) <= len(b) {
		return false
	}
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// shapeCmp compares shape graphs, allowing the known divergences.
type shapeCmp struct {
	known map[string]int // divergence → count
	// anyValidator skips comparing which branch validators compiled: for
	// a $ref to something that is not a schema (fuzzed documents) the two
	// readings compile the reference or its target, and one may fail.
	anyValidator bool
}

// divergence explains why the node shape a differs from the rendered b
// where libopenapi's rendering is wrong and the YAML reading is what the
// JSON Schema validator (SchemaSet) reads ("" if it is not one of those).
func (cmp *shapeCmp) divergence(a, b *Shape) string {
	if _, ok := b.props["$ref"]; ok && a.props["$ref"] == nil {
		// properties: {$ref: ...}: a map of properties kept in another
		// file (DigitalOcean's load balancers); libopenapi declares a
		// property named "$ref" instead of the referenced ones.
		return `reads "properties: {$ref}" as a property named $ref`
	}
	if len(a.allOf) == 2 && len(a.alts) == 2 && fingerprint(b) == fingerprint(a.allOf[0]) && fingerprint(b) != fingerprint(a.allOf[1]) {
		// A property {description, $ref} (a $ref with siblings): libopenapi
		// renders the siblings alone and drops the reference, so the
		// property was unconstrained.
		return "drops the $ref of a property with sibling keywords"
	}
	return ""
}

// fingerprint is a shape's own fields.
func fingerprint(s *Shape) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprint(s.types, s.addlOpen, s.declares, s.own, s.shell, s.path, s.ident, s.short,
		s.readOnly, s.writeOnly, keys(s.props), len(s.patterns), s.addl == nil,
		s.items == nil, len(s.prefix), len(s.alts), len(s.allOf), len(s.choices), len(s.cond), len(s.groups))
}

func keys(m map[string]*Shape) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestShapeErrorsLocated: a schema the shapes cannot read (a property that
// is neither a schema nor a boolean, a $ref that resolves nowhere) fails the
// build with the file, line and column, also in a referenced file.
func TestShapeErrorsLocated(t *testing.T) {
	dir := t.TempDir()
	root := "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n" +
		"          content: {application/json: {schema: {$ref: 'models.yaml#/Thing'}}}\n"
	for _, tc := range []struct{ models, want string }{
		{"Thing:\n  type: object\n  properties:\n    a: 5\n", "models.yaml:4:8"},
		{"Thing:\n  type: object\n  properties:\n    a: {$ref: '#/Missing'}\n", "models.yaml:4:8"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(root), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "models.yaml"), []byte(tc.models), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openapi.Load(filepath.Join(dir, "openapi.yaml"))
		if err != nil {
			t.Logf("load refuses it: %v", err)
			continue
		}
		set := NewSchemaSet(openapi.Model(s))
		var got error
		for _, op := range s.Operations {
			for _, p := range operationSchemas(op) {
				if _, err := NewShapeCache(set, ShapeOptions{}).Compile(p); err != nil {
					got = err
				}
			}
		}
		if got == nil || !strings.Contains(got.Error(), tc.want) {
			t.Errorf("%q: Compile error %v, want one naming %s", tc.models, got, tc.want)
		}
	}
}
