package openapi

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestRouteAdjacentEnum: "/{id}{ext}" is routable when ext is a string
// enum; the longest value that fits wins, and values outside the enum, an
// empty id and look-alike suffixes are not routed.
func TestRouteAdjacentEnum(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "regress", "adjacent-enum.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, op string
		params   map[string]string
		err      error
	}{
		{"/reports/q3.json", "getReport", map[string]string{"id": "q3", "ext": ".json"}, nil},
		{"/reports/q3.csv", "getReport", map[string]string{"id": "q3", "ext": ".csv"}, nil},
		{"/reports/q3.tar.gz", "getReport", map[string]string{"id": "q3", "ext": ".tar.gz"}, nil},
		{"/reports/q3.tar.tar.gz", "getReport", map[string]string{"id": "q3.tar", "ext": ".tar.gz"}, nil},
		{"/reports/a.json.csv", "getReport", map[string]string{"id": "a.json", "ext": ".csv"}, nil},
		{"/reports/q3%2Ejson", "getReport", map[string]string{"id": "q3", "ext": ".json"}, nil},
		{"/reports/.json", "", nil, ErrNotFound},   // empty id
		{"/reports/q3.xml", "", nil, ErrNotFound},  // not in the enum
		{"/reports/q3.JSON", "", nil, ErrNotFound}, // enums are case-sensitive
		{"/reports/q3", "", nil, ErrNotFound},
		{"/reports/q3.json/", "", nil, ErrNotFound},
		{"/archives/zip-2024", "getArchive", map[string]string{"format": "zip-", "name": "2024"}, nil},
		{"/archives/tar-", "", nil, ErrNotFound}, // empty name
		{"/archives/rar-x", "", nil, ErrNotFound},
	} {
		m, err := s.Match("GET", tc.path)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err = %v, want %v", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if m.Operation.ID != tc.op {
			t.Errorf("%s: operation %s, want %s", tc.path, m.Operation.ID, tc.op)
		}
		for k, v := range tc.params {
			if m.Params[k] != v {
				t.Errorf("%s: param %s = %q, want %q (all %v)", tc.path, k, m.Params[k], v, m.Params)
			}
		}
		// The forwarded path routes to the same operation and params.
		again, err := s.Match("GET", m.RawPath)
		if err != nil || again.Operation != m.Operation || again.Params["id"] != m.Params["id"] {
			t.Errorf("%s: re-match of %q = %v, %v", tc.path, m.RawPath, again, err)
		}
	}
}

// TestRouteAdjacentNotEnum: adjacent parameters neither of which is an enum
// of strings stay a located error.
func TestRouteAdjacentNotEnum(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "regress", "adjacent-free.yaml"))
	if err == nil || !strings.Contains(err.Error(), "adjacent parameters") || !strings.Contains(err.Error(), "adjacent-free.yaml:4:") {
		t.Fatalf("Load = %v, want a located adjacent-parameters error", err)
	}
}

// TestRouteNameOnlyCollision: Swagger 2.0 templates equal up to parameter
// names route by method when their methods are disjoint (with a warning);
// each operation gets its own parameter names. Same method: an error.
func TestRouteNameOnlyCollision(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "regress", "swagger2-names.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "routed by method") || !strings.Contains(s.Warnings[0], "swagger2-names.yaml:") {
		t.Errorf("Warnings = %q, want one located 'routed by method'", s.Warnings)
	}
	m, err := s.Match("GET", "/pets/rex")
	if err != nil || m.Operation.ID != "getPet" || m.Params["petId"] != "rex" || len(m.Params) != 1 {
		t.Errorf("GET = %+v, %v", m, err)
	}
	m, err = s.Match("DELETE", "/pets/rex")
	if err != nil || m.Operation.ID != "deletePet" || m.Params["id"] != "rex" || len(m.Params) != 1 {
		t.Errorf("DELETE = %+v, %v", m, err)
	}
	_, err = s.Match("PUT", "/pets/rex")
	var mna *MethodNotAllowedError
	if !errors.As(err, &mna) || strings.Join(mna.Allow, ",") != "GET,DELETE" {
		t.Errorf("PUT = %v, want 405 allowing GET, DELETE", err)
	}

	_, err = Load(filepath.Join("testdata", "regress", "swagger2-names-same-method.yaml"))
	if err == nil || !strings.Contains(err.Error(), "both have GET") {
		t.Errorf("same method: Load = %v, want an error naming GET", err)
	}
}
