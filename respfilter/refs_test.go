package respfilter

import (
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
)

// TestRefForms: two ways of writing a $ref that real specs use and that
// libopenapi's schema objects read wrongly, which the shapes (compiled from
// the YAML since issue 18) read as the JSON Schema validator does.
//   - properties: {$ref: 'attrs.yaml#/...'} (a map of properties in another
//     file): its properties are declared and kept. libopenapi declared one
//     property named "$ref", so droplet_ids and tag were stripped from
//     every response.
//   - a property {description, $ref} (a $ref with a sibling keyword): the
//     referenced object's undeclared fields are stripped. libopenapi
//     dropped the reference, the property was unconstrained and passed
//     whatever the upstream put in it.
func TestRefForms(t *testing.T) {
	s, err := openapi.Load("testdata/refs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(openapi.Model(s), opsOf(s), Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := `{"id":"lb1","droplet_ids":[1,2],"tag":"web","$ref":"x",` +
		`"owner":{"id":"u1","name":"ann","password_reset_link":"https://x/reset?t=1"},"internal":true}`
	out, res, err := f.Apply("getBalancer", 200, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"lb1","droplet_ids":[1,2],"tag":"web","owner":{"id":"u1","name":"ann"}}`
	if canon(t, string(out)) != canon(t, want) {
		t.Errorf("Apply = %s, want %s (stripped %v)", out, want, res.Stripped)
	}
}
