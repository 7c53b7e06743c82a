package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

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
	r, err := parseChild("ops=3 load_cpu=1.5s load_wall=2s reload_cpu=10ms reload_wall=20ms live_bytes=1048576\n")
	if err != nil || r.ops != 3 || r.loadCPU.Seconds() != 1.5 || r.reloadWall.Milliseconds() != 20 || r.live != 1<<20 {
		t.Fatalf("parseChild = %+v, %v", r, err)
	}
	if _, err := parseChild("ops=x"); err == nil {
		t.Fatal("bad child output accepted")
	}
}

// -request=false and -response=false must really turn the stages off, or
// the per-stage attribution of the live heap in docs/spec-model.md is wrong.
func TestStagesOff(t *testing.T) {
	defer func(s string) { stages = s }(stages)
	for _, tc := range []struct {
		request, response bool
	}{{true, true}, {false, true}, {true, false}, {false, false}} {
		stages = stageConfig(tc.request, tc.response)
		p, _, reload, err := loadGateway("../../examples/demo/openapi.yaml")
		if err != nil {
			t.Fatalf("request=%v response=%v: %v", tc.request, tc.response, err)
		}
		cfg := p.(interface{ Config() *config.Config }).Config()
		if cfg.Request.Validate != tc.request || (cfg.Response.Mode != "off") != tc.response {
			t.Errorf("request=%v response=%v: built with request.validate=%v response.mode=%q",
				tc.request, tc.response, cfg.Request.Validate, cfg.Response.Mode)
		}
		if err := reload(); err != nil {
			t.Fatal(err)
		}
	}
}
