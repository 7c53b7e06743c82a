package openapi

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/go-yaml"
)

// TestSwagger2Prepare: refs the converter used to leave behind (under
// additionalProperties.properties, inside vendor extensions) resolve, a
// dangling ref is an error at the user's line and column, and tuple items
// degrade to any item with a located warning.
func TestSwagger2Prepare(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "regress", "swagger2-ext-refs.yaml"))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	a := Model(s).Components.Schemas.GetOrZero("A").Schema()
	m := a.Properties.GetOrZero("m").Schema()
	b := m.AdditionalProperties.A.Schema().Properties.GetOrZero("b")
	if b.GetReference() != "#/components/schemas/B" || b.Schema() == nil || b.Schema().Type[0] != "string" {
		t.Errorf("additionalProperties.properties.b = %q %v, want the resolved #/components/schemas/B", b.GetReference(), b.Schema())
	}
	for _, x := range []struct{ ext, key, want string }{
		{"x-links", "body", "#/components/requestBodies/Body"},
		{"x-links", "q", "#/components/parameters/Q"},
	} {
		got := extRef(t, s, x.ext, x.key, "$ref")
		if got != x.want {
			t.Errorf("%s.%s $ref = %q, want %q", x.ext, x.key, got, x.want)
		}
	}

	// Dangling or non-local refs in extensions are set aside with a warning
	// (libopenapi would refuse the whole document for them).
	if got := extRef(t, s, "x-links", "dangling", "x-gatehouse-unresolved-ref"); got != "#/definitions/Nowhere" {
		t.Errorf("dangling extension ref = %q", got)
	}
	if len(s.Warnings) != 2 || !strings.Contains(s.Warnings[0], "swagger2-ext-refs.yaml:37:20:") || !strings.Contains(s.Warnings[1], "not a ref, data") {
		t.Errorf("Warnings = %q, want the two set-aside extension refs, located", s.Warnings)
	}

	s, err = Load(filepath.Join("testdata", "regress", "swagger2-tuple.yaml"))
	if err != nil {
		t.Fatalf("tuple: Load = %v", err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "swagger2-tuple.yaml:12:13: tuple validation") {
		t.Errorf("tuple: Warnings = %q, want one at 12:13", s.Warnings)
	}
	ex := Model(s).Components.Schemas.GetOrZero("WithData").Schema().Example
	if ex == nil || !strings.Contains(nodeString(ex), "1") {
		t.Errorf("example data with an items key was changed: %v", nodeString(ex))
	}

	_, err = Load(filepath.Join("testdata", "regress", "swagger2-badref.yaml"))
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `swagger2-badref.yaml:10:26: $ref "#/definitions/Missing" does not resolve`) {
		t.Errorf("bad ref: Load = %v, want the user's line and column", err)
	}
}

// extRef returns the $ref under key of the document's vendor extension ext.
func extRef(t *testing.T, s *Spec, ext, key, refKey string) string {
	t.Helper()
	n := Model(s).Extensions.GetOrZero(ext)
	if r := mapGet(mapGet(n, key), refKey); r != nil {
		return r.Value
	}
	t.Fatalf("extension %s.%s has no $ref", ext, key)
	return ""
}

func nodeString(n *yaml.Node) string {
	b, _ := yaml.Marshal(n)
	return string(b)
}
