package openapi

import (
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"
)

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get"}

// FuzzMatch checks the matcher's invariants on arbitrary request paths:
// it never panics; every error is one of the three sentinels; a successful
// match's RawPath is canonical (no "//", dot segments, ';', encoded slash
// or backslash, '#', '?', controls), decodes to Path, and matching it again
// gives the same operation, params and RawPath.
func FuzzMatch(f *testing.F) {
	for _, tc := range append(slicesConcat(happyCases, attackCases), matchCase{path: "/files/a.b"}) {
		f.Add(uint8(0), tc.path)
	}
	s := routes(f)
	f.Fuzz(func(t *testing.T, mi uint8, path string) {
		checkMatchInvariants(t, s, fuzzMethods[int(mi)%len(fuzzMethods)], path)
	})
}

// FuzzMatchAdjacent runs FuzzMatch's invariants over enum-split adjacent
// parameters ("/reports/{id}{ext}") and templates merged by method.
func FuzzMatchAdjacent(f *testing.F) {
	for _, p := range []string{"/reports/q3.json", "/reports/q3.tar.gz", "/reports/a.gz.tar.gz", "/reports/%2Ejson.json", "/archives/zip-zip-", "/archives/tar-a.json"} {
		f.Add(uint8(0), p)
	}
	s, err := Load("testdata/regress/adjacent-enum.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, mi uint8, path string) {
		checkMatchInvariants(t, s, fuzzMethods[int(mi)%len(fuzzMethods)], path)
	})
}

// checkMatchInvariants asserts the matcher's invariants for one request (FuzzMatch).
func checkMatchInvariants(t *testing.T, s *Spec, method, path string) {
	{
		m, err := s.Match(method, path)
		if err != nil {
			if m != nil {
				t.Fatalf("Match(%q) returned both a match and %v", path, err)
			}
			if !errors.Is(err, ErrBadPath) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrMethodNotAllowed) {
				t.Fatalf("Match(%q) = %v, not a sentinel", path, err)
			}
			return
		}
		raw := m.RawPath
		if !strings.HasPrefix(raw, "/") {
			t.Fatalf("RawPath %q does not start with '/'", raw)
		}
		for _, bad := range []string{"//", "/./", "/../", ";", "#", "?", "\\", "%2F", "%2f", "%5C", "%5c", "%00", "%2E", "%2e"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("Match(%q).RawPath = %q contains %q", path, raw, bad)
			}
		}
		if strings.HasSuffix(raw, "/.") || strings.HasSuffix(raw, "/..") {
			t.Fatalf("RawPath %q ends in a dot segment", raw)
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] < 0x21 || raw[i] >= 0x7f {
				t.Fatalf("RawPath %q has a raw control, space or non-ASCII byte", raw)
			}
		}
		dec, err := url.PathUnescape(raw)
		if err != nil || dec != m.Path {
			t.Fatalf("PathUnescape(RawPath %q) = %q, %v; Path is %q", raw, dec, err, m.Path)
		}
		for k, v := range m.Params {
			if v == "" || strings.ContainsAny(v, "/\\;\x00") {
				t.Fatalf("param %s = %q", k, v)
			}
		}
		again, err := s.Match(method, raw)
		if err != nil {
			t.Fatalf("re-Match(%q) from %q: %v", raw, path, err)
		}
		if again.Operation != m.Operation || !maps.Equal(again.Params, m.Params) || again.RawPath != raw || again.Path != m.Path {
			t.Fatalf("re-Match(%q) = %s %v, first %s %v", raw, again.Operation.ID, again.Params, m.Operation.ID, m.Params)
		}
	}
}

func slicesConcat(a, b []matchCase) []matchCase {
	return append(append([]matchCase(nil), a...), b...)
}

// FuzzLoadBytes feeds small documents to LoadBytes: it must never panic or
// hang, errors wrap ErrInvalidSpec, and a loaded spec is usable (operation
// index, Position and Match do not panic).
func FuzzLoadBytes(f *testing.F) {
	seeds := []string{
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get: {operationId: a, responses: {'200': {description: ok}}}\n",
		`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{"responses":{"200":{"description":"ok"}}}}}}`,
		"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths:\n  /p/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true, type: string}]\n      responses: {'200': {description: ok}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: '#/components/pathItems/A'\ncomponents:\n  pathItems:\n    A: {get: {responses: {'200': {description: ok}}}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n    N: {type: object, properties: {next: {$ref: '#/components/schemas/N'}}}\n",
		"openapi: 3.0.0\npaths:\n  /f/{a}.{b}: {get: {responses: {}}}\n  /f/{a}: {get: {}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /r:\n    get:\n      responses: {'200': {$ref: 'http://127.0.0.1:1/x.yaml'}}\n",
		"a: &a [*a]\n",
		// $ref cycles (crashed the process before checkDocument) and depth
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a: {get: {responses: {'200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}}}}\ncomponents: {schemas: {A: {$ref: '#/components/schemas/B'}, B: {$ref: '#/components/schemas/A'}}}\n",
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a: {get: {responses: {'200': {$ref: '#/components/responses/R'}}}}\ncomponents: {responses: {R: {$ref: '#/components/responses/S'}, S: {$ref: '#/components/responses/R'}}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a: {$ref: '#/paths/~1b'}\n  /b: {$ref: '#/paths/~1a'}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\ncomponents: {schemas: {A: {allOf: [{$ref: '#/components/schemas/A/allOf/0'}]}}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\ncomponents: {schemas: {A: {$ref: '#/components/schemas/A/properties/x'}}}\n",
		"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\ndefinitions: {A: {$ref: '#/definitions/A'}}\n",
		"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\nx-p: {a: {$ref: '#/definitions/A'}, b: {$ref: '#/parameters/P'}, c: {$ref: x}}\nparameters: {P: {name: b, in: body, schema: {}}}\ndefinitions: {A: {type: object, additionalProperties: {properties: {b: {$ref: '#/definitions/A/properties'}}}}}\n",
		"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {/a: {get: {responses: {'200': {description: ok, schema: {items: [{}, {$ref: '#/definitions/~1%7E'}]}}}}}}\n",
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\nx: " + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + "\n",
		"openapi: 3.1.0\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8192 {
			return
		}
		s, err := LoadBytes(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("LoadBytes error %v does not wrap ErrInvalidSpec", err)
			}
			return
		}
		for _, o := range s.Operations {
			if s.Operation(o.ID) != o {
				t.Fatalf("Operation(%q) lookup broken", o.ID)
			}
			s.Position(o.Pointer)
			s.Match(o.Method, strings.NewReplacer("{", "", "}", "").Replace(o.Template))
		}
		s.Position("/paths/~1a/get/responses/200")
		s.Match("GET", "/")
	})
}
