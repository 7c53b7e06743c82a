package main

import "testing"

// Both libraries must see the same operations in the same document, or the
// load comparison in docs/spec-model.md compares different work; the gateway
// build sees them too, and builds again for the reload measurement.
func TestLoadBothLibraries(t *testing.T) {
	const spec = "../../examples/demo/openapi.yaml"
	_, libOps, _, err := load("libopenapi", spec)
	if err != nil {
		t.Fatal(err)
	}
	_, kinOps, _, err := load("kin", spec)
	if err != nil {
		t.Fatal(err)
	}
	if libOps == 0 || libOps != kinOps {
		t.Fatalf("libopenapi saw %d operations, kin %d", libOps, kinOps)
	}
	_, gwOps, reload, err := load("gateway", spec)
	if err != nil {
		t.Fatal(err)
	}
	if gwOps != libOps || reload == nil {
		t.Fatalf("gateway saw %d operations (reload %v), want %d", gwOps, reload != nil, libOps)
	}
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if _, _, _, err := load("other", spec); err == nil {
		t.Fatal("unknown library accepted")
	}
}

func TestParseChild(t *testing.T) {
	r, err := parseChild("ops=3 load_cpu=1.5s load_wall=2s reload_cpu=10ms reload_wall=20ms\n")
	if err != nil || r.ops != 3 || r.loadCPU.Seconds() != 1.5 || r.reloadWall.Milliseconds() != 20 {
		t.Fatalf("parseChild = %+v, %v", r, err)
	}
	if _, err := parseChild("ops=x"); err == nil {
		t.Fatal("bad child output accepted")
	}
}
