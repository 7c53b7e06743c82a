package oasvalidate

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pb33f/go-yaml"

	"github.com/gatehouse/gatehouse/openapi"
)

// FuzzShapes loads small documents and compiles every operation's shapes
// from the YAML nodes (with branch validators, as the response filter
// does): it must never panic or hang, and where libopenapi's reading of the
// same schemas also builds, the two shape graphs must be the same but for
// the known divergences (shapeCmp.divergence).
func FuzzShapes(f *testing.F) {
	head := "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      requestBody: {content: {application/json: {schema: "
	tail := "}}}\n      responses: {'200': {description: ok}}\n"
	for _, s := range []string{
		head + "{$ref: '#/components/schemas/A'}" + tail + "components: {schemas: {A: {type: object, properties: {b: {description: d, $ref: '#/components/schemas/B'}}}, B: {type: object, additionalProperties: false, properties: {c: {type: string, pattern: '^x'}}}}}\n",
		head + "{oneOf: [{$ref: '#/components/schemas/Cat', title: c}, {$ref: '#/components/schemas/Dog'}], discriminator: {propertyName: kind, mapping: {c: '#/components/schemas/Cat'}}}" + tail + "components: {schemas: {Cat: {type: object, properties: {kind: {const: c}, claws: {type: integer}}}, Dog: {type: object, properties: {kind: {enum: [d]}, x-gatehouse-path: true}}}}\n",
		head + "{type: object, properties: {$ref: '#/components/schemas/M'}}" + tail + "components: {schemas: {M: {a: {type: string, maxLength: 10}, b: {readOnly: true}}}}\n",
		head + "{type: object, patternProperties: {'^x-': {type: string}, '([a-z]': {}}, additionalProperties: {type: integer}}" + tail,
		head + "{type: array, prefixItems: [{type: string}, true], items: false}" + tail,
		head + "{type: object, properties: {n: {$ref: '#/components/schemas/N'}}}" + tail + "components: {schemas: {N: {type: object, properties: {next: {$ref: '#/components/schemas/N'}}, if: {required: [a]}, then: {properties: {a: {}}}, else: {properties: {b: {}}}}}}\n",
		head + "{$ref: '#/components/schemas/R1'}" + tail + "components: {schemas: {R1: {$ref: '#/components/schemas/R2'}, R2: {$ref: '#/components/schemas/R3'}, R3: {type: object, properties: {z: {x-gatehouse-shell: true, x-gatehouse-identifier: false}}}}}\n",
		head + "{type: object, properties: {a: &x {type: object, properties: {b: *x}}}}" + tail,
		head + "{items: [{type: string}]}" + tail,
		head + "true" + tail,
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters: [{name: q, in: query, schema: {$ref: '#/components/schemas/Q', nullable: true}}]\n      responses: {'200': {description: ok, content: {application/json: {schema: {allOf: [{$ref: '#/components/schemas/Q'}, {type: object, writeOnly: true}]}}}}}\ncomponents: {schemas: {Q: {type: string, format: uuid}}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8192 {
			return
		}
		s, err := openapi.LoadBytes(data, "fuzz.yaml")
		if err != nil {
			return
		}
		set := NewSchemaSet(openapi.Model(s))
		opts := ShapeOptions{Branches: set, Purpose: PurposeResponse}
		nodes := NewShapeCache(set, opts)
		rendered := &ShapeCache{c: &shapeCompiler{set: set, bySchema: map[any]*Shape{}, opts: opts, rendered: true}}
		cmp := &shapeCmp{known: map[string]int{}, anyValidator: true}
		// libopenapi's reading recurses without end through a recursive
		// YAML alias (a: &x {properties: {b: *x}}): documents with anchors
		// are compiled from the nodes only.
		// It also matches keywords case-insensitively (propertYName), where
		// the YAML reading, like JSON Schema, does not, and reads a $ref to
		// something that is not a schema (the document, #/components) in
		// ways of its own: those documents are not compared either.
		compare := !bytes.Contains(data, []byte("&")) && comparable(data)
		for _, op := range s.Operations {
			for _, p := range operationSchemas(op) {
				a, errA := nodes.Compile(p)
				if !compare {
					continue
				}
				b, errB := rendered.Compile(p)
				if errA != nil || errB != nil {
					continue // a schema one reading refuses: nothing to compare
				}
				if err := cmp.same(a, b, map[[2]*Shape]bool{}, ""); err != nil {
					t.Fatalf("%s: %v", op.ID, err)
				}
			}
		}
	})
}

// shapeKeywords are the keywords the shape compilers read.
var shapeKeywords = []string{"properties", "patternProperties", "additionalProperties", "items", "prefixItems",
	"allOf", "anyOf", "oneOf", "then", "else", "discriminator", "propertyName", "mapping", "pattern", "format",
	"enum", "const", "readOnly", "writeOnly", "type", "maxLength", "$ref", "x-gatehouse-shell", "x-gatehouse-path",
	"x-gatehouse-identifier"}

// comparable reports whether no mapping key of the YAML document data is
// one of shapeKeywords in another case, and every $ref names a component
// schema.
func comparable(data []byte) bool {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return false
	}
	ok := true
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 200 || !ok {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if v := n.Content[i+1].Value; k == "$ref" && (!strings.HasPrefix(v, "#/components/schemas/") || len(v) == len("#/components/schemas/")) {
					ok = false
				}
				for _, kw := range shapeKeywords {
					if k != kw && strings.EqualFold(k, kw) {
						ok = false
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(&root, 0)
	return ok
}
