package scan

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
)

// TestGenRefForms: the body the scanner generates for a schema written
// with "properties: {$ref}" (a map of properties in another file) and a
// {description, $ref} property passes the gateway's strict validation of
// the same spec (reject_unknown). With libopenapi's reading the scanner
// sent {"$ref": "ghscan3", "owner": "ghscan2", ...} without droplet_ids or
// tag: refused by such an API, so every check that needs a created object
// had none.
func TestGenRefForms(t *testing.T) {
	s, err := openapi.Load("../respfilter/testdata/refs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ops []oasvalidate.Operation
	for _, o := range s.Operations {
		ops = append(ops, oasvalidate.Operation{ID: o.ID, Method: o.Method, Template: o.Template, PathItem: openapi.PathItem(o), Op: openapi.Op(o), Params: openapi.Params(o)})
	}
	v, err := oasvalidate.New(openapi.Model(s), ops, oasvalidate.Options{RejectUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	o := s.Operation("createBalancer")
	if o == nil {
		t.Fatal("no createBalancer")
	}
	var body any
	for _, mt := range openapi.Op(o).RequestBody.Content.FromOldest() {
		body = genValue(&gen{}, schemaOf(mt.Schema), "", 0)
	}
	m, _ := body.(map[string]any)
	if _, ok := m["$ref"]; ok || m["droplet_ids"] == nil || m["tag"] == nil {
		t.Fatalf("generated %v: want droplet_ids and tag, no $ref", body)
	}
	if _, ok := m["owner"].(map[string]any); !ok {
		t.Fatalf("generated owner %#v, want an object", m["owner"])
	}
	b, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/balancers", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "createBalancer", Method: "POST"}))
	if err := v.Check(r); err != nil {
		t.Errorf("generated body %s refused: %v", b, err)
	}
}
