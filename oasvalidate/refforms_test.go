package oasvalidate

import (
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
)

// TestRefFormsInRequests is respfilter's TestRefForms on the request side
// (reject_unknown): the properties of a "properties: {$ref}" map kept in
// another file are declared (libopenapi's reading declared one property
// named "$ref" and refused droplet_ids), and a property {description,
// $ref} is the referenced object, whose undeclared fields are refused
// (libopenapi's reading dropped the reference: anything passed).
func TestRefFormsInRequests(t *testing.T) {
	s, err := openapi.Load("../respfilter/testdata/refs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(openapi.Model(s), fromSpec(s), Options{RejectUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, v, []reqCase{
		{name: "properties from the referenced map", op: "createBalancer", method: "POST", target: "/balancers", ct: jsonCT,
			body: `{"id":"lb1","droplet_ids":[1,2],"tag":"web","owner":{"id":"u1","name":"ann"}}`},
		{name: "$ref is not a property", op: "createBalancer", method: "POST", target: "/balancers", ct: jsonCT,
			body: `{"id":"lb1","$ref":"x"}`, want: "unknown_property"},
		{name: "undeclared field in a sibling-ref property", op: "createBalancer", method: "POST", target: "/balancers", ct: jsonCT,
			body: `{"id":"lb1","owner":{"id":"u1","role":"admin"}}`, want: "unknown_property"},
	})
}
