package openapi

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOverlay parses arbitrary overlay documents and applies them to a
// small spec: nothing panics; every parse or apply error wraps
// ErrInvalidOverlay; an overlay that applies yields a document that loads
// or fails with ErrInvalidSpec; the report counts the overlay's actions.
// Seeds: testdata/fuzz/FuzzOverlay and testdata/overlay/*.yaml.
func FuzzOverlay(f *testing.F) {
	spec, err := os.ReadFile(ovPath("api.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	seeds, _ := filepath.Glob(ovPath("*.yaml"))
	for _, s := range seeds {
		if filepath.Base(s) == "api.yaml" {
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ov, err := ParseOverlay(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalidOverlay) {
				t.Fatalf("ParseOverlay error %v does not wrap ErrInvalidOverlay", err)
			}
			return
		}
		out, rep, err := ApplyOverlays(spec, ov)
		if err != nil {
			if !errors.Is(err, ErrInvalidOverlay) {
				t.Fatalf("ApplyOverlays error %v does not wrap ErrInvalidOverlay", err)
			}
			return
		}
		if rep.Files != 1 || rep.Actions != ov.Actions() || rep.Changed < rep.Actions {
			t.Fatalf("report %+v for %d actions", rep, ov.Actions())
		}
		if _, err := LoadBytes(out, "overlaid.yaml"); err != nil && !errors.Is(err, ErrInvalidSpec) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("LoadBytes(overlaid) = %v, not ErrInvalidSpec", err)
		}
	})
}
