package oasvalidate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
)

// TestSchemaSetLeftovers31: a 3.1 document with 3.0 keywords and a
// duplicate required item is compiled with the 3.0 meaning (it used to be
// refused) and each leftover is a located warning.
func TestSchemaSetLeftovers31(t *testing.T) {
	s, err := openapi.Load("../openapi/testdata/regress/leftovers-31.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(openapi.Model(s), fromSpec(s), Options{}); err != nil {
		t.Fatalf("New: %v", err)
	}
	set := SchemasFor(openapi.Model(s))
	op := s.Operation("createItem")
	reqSchema, err := set.Compile(openapi.Op(op).RequestBody.Content.GetOrZero("application/json").Schema, PurposeRequest)
	if err != nil {
		t.Fatal(err)
	}
	respSchema, err := set.Compile(openapi.Op(op).Responses.Codes.GetOrZero("200").Content.GetOrZero("application/json").Schema, PurposeResponse)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		resp, ok   bool
	}{
		{"nullable honoured", `{"count":1,"note":null}`, false, true},
		{"exclusiveMinimum true excludes the minimum", `{"count":0}`, false, false},
		{"above the minimum", `{"count":1}`, false, true},
		{"readOnly id not required in a request", `{"count":1}`, false, true},
		{"readOnly id required in a response", `{"count":1}`, true, false},
		{"response with id", `{"id":"a","count":1}`, true, true},
		{"wrong type still refused", `{"count":"1"}`, false, false},
		{"null where not nullable", `{"count":null}`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			d := json.NewDecoder(strings.NewReader(tc.body))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			sch := reqSchema
			if tc.resp {
				sch = respSchema
			}
			err := sch.Validate(v)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%s) = %v, want ok=%v", tc.body, err, tc.ok)
			}
		})
	}
	ws := strings.Join(set.Warnings(), "\n")
	for _, w := range []string{
		"leftovers-31.yaml:24:",
		"nullable is OpenAPI 3.0",
		"leftovers-31.yaml:25:",
		"exclusiveMinimum: boolean is OpenAPI 3.0",
		"leftovers-31.yaml:20:",
		"required lists id more than once",
	} {
		if !strings.Contains(ws, w) {
			t.Errorf("warnings %q do not contain %q", ws, w)
		}
	}
}

// TestSchemaSetRefSiblings30: OAS 3.0 ignores the siblings of a $ref
// (x-jvm-type, description, even constraints), 3.1 honours them.
func TestSchemaSetRefSiblings30(t *testing.T) {
	for _, tc := range []struct {
		version string
		okLong  bool
	}{{"3.0.3", true}, {"3.1.0", false}} {
		doc := "openapi: " + tc.version + `
info: {title: t, version: "1"}
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/S', maxLength: 2, x-jvm-type: java.lang.String}
      responses: {"200": {description: ok}}
components:
  schemas:
    S: {type: string}
`
		s, err := openapi.LoadBytes([]byte(doc), "siblings.yaml")
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		op := s.Operations[0]
		sch, err := SchemasFor(openapi.Model(s)).Compile(openapi.Op(op).RequestBody.Content.GetOrZero("application/json").Schema, PurposeRequest)
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		if err := sch.Validate("long"); (err == nil) != tc.okLong {
			t.Errorf("%s: Validate(long) = %v, want ok=%v", tc.version, err, tc.okLong)
		}
		if err := sch.Validate(json.Number("1")); err == nil {
			t.Errorf("%s: a number passed the $ref'd string schema", tc.version)
		}
	}
}

// TestSchemaSetInvalidComponent: the component schemas are collected in one
// pass (componentSchemas) instead of one metaschema check per first
// reference; a component that is not a valid schema is still refused at
// load, named by its pointer, and a valid document still compiles and
// validates through nested references.
func TestSchemaSetInvalidComponent(t *testing.T) {
	const doc = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                n: {$ref: '#/components/schemas/N'}
      responses: {"200": {description: ok}}
components:
  schemas:
    N: {type: integer, minimum: MIN}
    M: {type: string}
`
	for _, tc := range []struct {
		name, min string
		wantErr   bool
	}{{"bad minimum", `"zero"`, true}, {"good minimum", "1", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := openapi.LoadBytes([]byte(strings.Replace(doc, "MIN", tc.min, 1)), "comp.yaml")
			if err != nil {
				t.Fatal(err)
			}
			v, err := New(openapi.Model(s), fromSpec(s), Options{})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "#/components/schemas/N is not a valid schema") {
					t.Fatalf("New = %v, want the invalid component named", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			sch := v.ops[s.Operations[0].ID].media[0].schema
			if err := sch.Validate(map[string]any{"n": json.Number("0")}); err == nil {
				t.Error("n=0 passed minimum 1 through the nested $ref")
			}
			if err := sch.Validate(map[string]any{"n": json.Number("2")}); err != nil {
				t.Errorf("n=2: %v", err)
			}
		})
	}
}

// TestSchemasForNeverSharesAcrossDocuments: the SchemaSet cache was keyed by
// the document's address, and a document allocated where a collected one
// lived (before the cleanup removed its entry) got the old document's
// SchemaSet: its request bodies then failed to compile with "not a file of
// the spec" (TestAttackQuerySemicolonSmuggling in CI). Each document, loaded
// from its own directory right after the previous one was dropped, must get
// a SchemaSet of its own file, and compile through it.
func TestSchemasForNeverSharesAcrossDocuments(t *testing.T) {
	const spec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /items:
    post:
      operationId: createItem
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Item'}
      responses:
        "201": {description: ok}
components:
  schemas:
    Item:
      type: object
      properties: {name: {type: string}}
`
	// Hold the runtime's cleanup goroutines, as a loaded machine does: the
	// cleanups that remove the entries of dropped documents wait, and new
	// documents are allocated where dropped ones lived.
	hold := make(chan struct{})
	defer close(hold)
	for range 64 {
		runtime.AddCleanup(new([64]byte), func(ch chan struct{}) { <-ch }, hold)
	}
	runtime.GC()
	for i := range 200 {
		p := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(p, []byte(spec), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openapi.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		set := SchemasFor(openapi.Model(s))
		if want := fileURL(absKey(p)); set.rootURL != want {
			t.Fatalf("document %d (%s) got the SchemaSet of %s", i, want, set.rootURL)
		}
		if _, err := New(openapi.Model(s), fromSpec(s), Options{}); err != nil {
			t.Fatalf("document %d: New: %v", i, err)
		}
		if sc := ShapesFor(openapi.Model(s), "test", func() ShapeOptions { return ShapeOptions{} }); sc == nil {
			t.Fatal("no ShapeCache")
		}
		if i%2 == 0 {
			runtime.GC()
		}
	}
}
