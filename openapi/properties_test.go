package openapi

import (
	"slices"
	"testing"
)

// TestProperties: a "properties: {$ref}" map in another file yields the
// referenced properties (not one named "$ref"), and a {description, $ref}
// property yields the referenced object (not an unconstrained schema).
func TestProperties(t *testing.T) {
	s, err := Load("../respfilter/testdata/refs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bal := Model(s).Components.Schemas.GetOrZero("Balancer").Schema()
	if bal == nil || len(bal.AllOf) != 2 {
		t.Fatal("Balancer: want an allOf of two")
	}
	var names []string
	var ownerProps []string
	for _, a := range bal.AllOf {
		for name, p := range Properties(a.Schema()) {
			names = append(names, name)
			if name == "owner" {
				for k := range Properties(p.Schema()) {
					ownerProps = append(ownerProps, k)
				}
			}
		}
	}
	if want := []string{"id", "owner", "droplet_ids", "tag"}; !slices.Equal(names, want) {
		t.Errorf("properties %v, want %v", names, want)
	}
	if want := []string{"id", "name"}; !slices.Equal(ownerProps, want) {
		t.Errorf("owner's properties %v, want %v (the referenced Owner)", ownerProps, want)
	}
	for range Properties(nil) {
		t.Fatal("nil schema yielded a property")
	}
}
