package scan

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
)

// gen builds valid values from schemas: examples first, then defaults,
// enums, const, and finally values derived from type, format and bounds.
// Strings are made unique per scan (a counter) so repeated creates do not
// collide on unique columns.
// gen makes values from schemas. Its schema functions are not methods: a
// method naming a libopenapi type is read, with Target (which holds a gen),
// by every package that uses a Target, which then compiles libopenapi's
// generic types again (see openapi.Spec).
type gen struct{ n atomic.Int64 }

func decodeNode(n *yaml.Node) (any, bool) {
	if n == nil {
		return nil, false
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, false
	}
	return normalize(v), true
}

// normalize converts YAML-decoded maps to map[string]any for JSON encoding.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

func schemaOf(p *base.SchemaProxy) *base.Schema {
	if p == nil {
		return nil
	}
	defer func() { _ = recover() }() // a broken schema yields no value rather than a crash
	return p.Schema()
}

func hasType(s *base.Schema, t string) bool {
	for _, x := range s.Type {
		if x == t {
			return true
		}
	}
	return false
}

// genValue returns a valid value for s; name is the property or parameter name
// (it refines strings: "password", "email", "username").
func genValue(g *gen, s *base.Schema, name string, depth int) any {
	if s == nil || depth > 8 {
		return "ghscan"
	}
	if v, ok := decodeNode(s.Example); ok {
		return v
	}
	if len(s.Examples) > 0 {
		if v, ok := decodeNode(s.Examples[0]); ok {
			return v
		}
	}
	if v, ok := decodeNode(s.Const); ok {
		return v
	}
	if v, ok := decodeNode(s.Default); ok {
		return v
	}
	if len(s.Enum) > 0 {
		if v, ok := decodeNode(s.Enum[0]); ok {
			return v
		}
	}
	if len(s.AllOf) > 0 {
		out := map[string]any{}
		for _, p := range s.AllOf {
			if m, ok := genValue(g, schemaOf(p), name, depth+1).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		if m, ok := genObject(g, s, depth).(map[string]any); ok {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	for _, alts := range [][]*base.SchemaProxy{s.OneOf, s.AnyOf} {
		if len(alts) > 0 {
			return genValue(g, schemaOf(alts[0]), name, depth+1)
		}
	}
	switch {
	case hasType(s, "object") || (len(s.Type) == 0 && s.Properties != nil):
		return genObject(g, s, depth)
	case hasType(s, "array"):
		var item *base.Schema
		if s.Items != nil && s.Items.IsA() {
			item = schemaOf(s.Items.A)
		}
		n := 1
		if s.MinItems != nil && *s.MinItems > 1 {
			n = int(min(*s.MinItems, 5))
		}
		out := make([]any, n)
		for i := range out {
			out[i] = genValue(g, item, name, depth+1)
		}
		return out
	case hasType(s, "integer"):
		return int64(bounded(s, 1))
	case hasType(s, "number"):
		return bounded(s, 1.5)
	case hasType(s, "boolean"):
		return true
	case hasType(s, "null"):
		return nil
	}
	return genStr(g, s, name)
}

func bounded(s *base.Schema, v float64) float64 {
	if s.Minimum != nil && v < *s.Minimum {
		v = *s.Minimum
	}
	if s.ExclusiveMinimum != nil && s.ExclusiveMinimum.IsB() && v <= s.ExclusiveMinimum.B {
		v = s.ExclusiveMinimum.B + 1
	}
	if s.Maximum != nil && v > *s.Maximum {
		v = *s.Maximum
	}
	return v
}

func genObject(g *gen, s *base.Schema, depth int) any {
	out := map[string]any{}
	// openapi.Properties reads "properties: {$ref}" maps and {description,
	// $ref} properties as JSON Schema does; libopenapi's objects gave a
	// property named "$ref" and a string where an object was declared.
	for k, p := range openapi.Properties(s) {
		ps := schemaOf(p)
		if ps != nil && ps.ReadOnly != nil && *ps.ReadOnly {
			continue
		}
		out[k] = genValue(g, ps, k, depth+1)
	}
	return out
}

// literalPattern matches a pattern that allows one plain word.
var literalPattern = regexp.MustCompile(`^\^([A-Za-z0-9_.:-]+)\$$`)

func genStr(g *gen, s *base.Schema, name string) string {
	if m := literalPattern.FindStringSubmatch(s.Pattern); m != nil {
		return m[1] // pattern: ^password$ (an OAuth2 grant_type) allows one value
	}
	n := g.n.Add(1)
	lname := strings.ToLower(name)
	var v string
	switch {
	case s.Format == "email" || strings.Contains(lname, "email"):
		v = fmt.Sprintf("ghscan%d@example.com", n)
	case s.Format == "uuid":
		v = fmt.Sprintf("6a3f1e2c-0b1d-4c5e-9f00-%012d", n)
	case s.Format == "date-time":
		v = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)
	case s.Format == "date":
		v = "2024-01-02"
	case s.Format == "time":
		v = "03:04:05Z"
	case s.Format == "uri" || s.Format == "url":
		v = "https://example.com/ghscan"
	case s.Format == "ipv4":
		v = "192.0.2.1"
	case s.Format == "ipv6":
		v = "2001:db8::1"
	case s.Format == "hostname":
		v = "example.com"
	case s.Format == "byte":
		v = "Z2hzY2Fu"
	case strings.Contains(lname, "password") || s.Format == "password":
		v = "Ghscan-Passw0rd"
	case strings.Contains(lname, "phone"):
		v = "+15555550100"
	default:
		v = fmt.Sprintf("ghscan%d", n)
	}
	if s.MaxLength != nil && int64(len(v)) > *s.MaxLength {
		v = v[:max(0, *s.MaxLength)]
	}
	if s.MinLength != nil {
		for int64(len(v)) < *s.MinLength {
			v += "x"
		}
	}
	return v
}
