package gateway

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadReusesUnchangedSpec: a reload whose spec file did not change
// builds the new pipeline on the running Spec (nothing parsed or compiled
// again); a changed spec file is loaded again and its change is enforced.
func TestReloadReusesUnchangedSpec(t *testing.T) {
	e := start(t, "")
	first := e.srv.Pipeline()
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	second := e.srv.Pipeline()
	if second == first || second.Spec() != first.Spec() {
		t.Fatalf("unchanged reload: new pipeline %v, same spec %v; want a new pipeline on the same spec",
			second != first, second.Spec() == first.Spec())
	}
	changed := strings.Replace(testSpec, "/users/{user_id}:", "/members/{user_id}:", 1)
	if changed == testSpec {
		t.Fatal("test spec has no /users/{user_id} path")
	}
	writeFile(t, filepath.Join(e.dir, "spec.yaml"), changed)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	third := e.srv.Pipeline()
	if third.Spec() == second.Spec() {
		t.Fatal("a changed spec file reused the old Spec")
	}
	if _, err := third.Spec().Match("GET", "/members/42"); err != nil {
		t.Errorf("changed spec not in force: GET /members/42: %v", err)
	}
}
