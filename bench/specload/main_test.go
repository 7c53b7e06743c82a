package main

import "testing"

// Both libraries must see the same operations in the same document, or the
// load comparison in docs/spec-model.md compares different work.
func TestLoadBothLibraries(t *testing.T) {
	const spec = "../../examples/demo/openapi.yaml"
	_, libOps, err := load("libopenapi", spec)
	if err != nil {
		t.Fatal(err)
	}
	_, kinOps, err := load("kin", spec)
	if err != nil {
		t.Fatal(err)
	}
	if libOps == 0 || libOps != kinOps {
		t.Fatalf("libopenapi saw %d operations, kin %d", libOps, kinOps)
	}
	if _, _, err := load("other", spec); err == nil {
		t.Fatal("unknown library accepted")
	}
}
