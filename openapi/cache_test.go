package openapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies a testdata tree into a temp dir (the test edits files).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestCacheReuse: an unchanged multi-file spec is returned again (the same
// *Spec, so the compiled schemas keyed by its document are reused); a
// change to the root, to a file reached through $ref, or to an extra input
// (an overlay) loads again; a load error is not cached and a fixed file
// loads.
func TestCacheReuse(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "multi"))
	root := filepath.Join(dir, "openapi.yaml")
	extra := filepath.Join(dir, "overlay.yaml")
	if err := os.WriteFile(extra, []byte("overlay: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c Cache
	load := func(step string, wantReused bool) *Spec {
		t.Helper()
		s, reused, err := c.Load(root, extra)
		if err != nil {
			t.Fatalf("%s: Load: %v", step, err)
		}
		if reused != wantReused {
			t.Fatalf("%s: reused = %v, want %v", step, reused, wantReused)
		}
		return s
	}
	edit := func(path, old, new string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", path, old)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := load("cold", false)
	if again := load("unchanged", true); again != first {
		t.Fatal("unchanged reload returned another Spec")
	}

	user := filepath.Join(dir, "schemas", "user.yaml")
	edit(user, "type: object", "type: object\ndescription: changed")
	second := load("referenced file changed", false)
	if second == first {
		t.Fatal("a changed $ref'd file returned the old Spec")
	}
	load("unchanged after the change", true)

	edit(extra, "1.0.0", "1.0.1")
	load("extra input changed", false)

	edit(root, "operationId: getUser", "operationId: [")
	if _, _, err := c.Load(root, extra); err == nil {
		t.Fatal("broken root loaded")
	}
	if _, _, err := c.Load(root, extra); err == nil {
		t.Fatal("broken root loaded from the cache")
	}
	edit(root, "operationId: [", "operationId: getUser")
	load("fixed", false)
	if s, reused, err := c.Load(filepath.Join(dir, "paths", "users.yaml")); err == nil && reused {
		t.Fatalf("another root path reused the cached Spec %q", s.Path)
	}
}
