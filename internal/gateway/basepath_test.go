package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/openapi"
)

// TestBasePathRouting: with base_path /api/v2, clients address
// /api/v2/<template>; the prefix is matched byte for byte at a segment
// boundary, and the upstream URL's path (here none) takes its place.
func TestBasePathRouting(t *testing.T) {
	e := start(t, "base_path: /api/v2\n")
	for _, tc := range []struct {
		name, line string
		want       int
		upstream   string // RequestURI the upstream must see
	}{
		{"under base", "GET /api/v2/users/1", 200, "/users/1"},
		{"canonicalized under base", "GET /api/v2/users/%61b?x=1", 200, "/users/ab?x=1"},
		{"without base", "GET /users/1", 404, ""},
		{"base alone", "GET /api/v2", 404, ""},
		{"prefix of a segment", "GET /api/v20/users/1", 404, ""},
		{"case", "GET /API/v2/users/1", 404, ""},
		{"encoded base", "GET /api/v%32/users/1", 404, ""},
		{"dot segment climbing out", "GET /api/v2/../v2/users/1", 400, ""},
		{"encoded slash after base", "GET /api/v2%2Fusers/1", 404, ""},
		{"double slash after base", "GET /api/v2//users/1", 400, ""},
		{"matrix on base", "GET /api/v2;x/users/1", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.requests.Load()
			code, resp := e.raw(tc.line)
			if code != tc.want {
				t.Fatalf("%s = %d, want %d\n%s", tc.line, code, tc.want, resp)
			}
			if tc.want != 200 {
				if e.up.requests.Load() != before {
					t.Fatal("rejected request reached the upstream")
				}
				return
			}
			if got := e.up.lastReq().RequestURI; got != tc.upstream {
				t.Fatalf("upstream saw %q, want %q", got, tc.upstream)
			}
		})
	}
}

// TestBasePathFromServers: with base_path unset the prefix comes from the
// spec's servers[].url (variables replaced by their defaults); "/" turns it
// off; servers that disagree fail the build and name base_path.
func TestBasePathFromServers(t *testing.T) {
	spec := func(servers string) *openapi.Spec {
		s, err := openapi.LoadBytes([]byte(`openapi: 3.1.0
info: {title: t, version: "1"}
servers:
`+servers+`
paths:
  /users/{id}:
    get:
      operationId: getUser
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`), "spec.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	serve := func(rs *routeStage, path string) (int, string) {
		var fwd string
		h := rs.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fwd, _ = proxy.TargetPath(r.Context())
		}))
		req := httptest.NewRequest("GET", path, nil)
		req = req.WithContext(gatehouse.NewRecordContext(req.Context(), &gatehouse.Record{}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, fwd
	}
	for _, tc := range []struct {
		name, servers, basePath, path string
		want                          int
		fwd                           string
	}{
		{"server path", "  - url: https://api.example.com/v1", "", "/v1/users/7", 200, "/users/7"},
		{"server path, request without it", "  - url: https://api.example.com/v1/", "", "/users/7", 404, ""},
		{"variables", "  - url: https://{host}/{ver}\n    variables: {host: {default: a.example}, ver: {default: v3}}", "", "/v3/users/7", 200, "/users/7"},
		{"relative server url", "  - url: /rel", "", "/rel/users/7", 200, "/users/7"},
		{"no path", "  - url: http://127.0.0.1:5000", "", "/users/7", 200, "/users/7"},
		{"explicit none", "  - url: https://api.example.com/v1", "/", "/users/7", 200, "/users/7"},
		{"explicit overrides", "  - url: https://api.example.com/v1", "/edge", "/edge/users/7", 200, "/users/7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.BasePath = tc.basePath
			rs, err := newRouteStage(spec(tc.servers), cfg)
			if err != nil {
				t.Fatal(err)
			}
			code, fwd := serve(rs, tc.path)
			if code != tc.want || (tc.want == 200 && fwd != tc.fwd) {
				t.Fatalf("%s: %d forwarded %q, want %d %q", tc.path, code, fwd, tc.want, tc.fwd)
			}
		})
	}
	t.Run("servers disagree", func(t *testing.T) {
		cfg := config.Default()
		_, err := newRouteStage(spec("  - url: https://a.example/v1\n  - url: https://b.example/v2"), cfg)
		var pe *config.PathError
		if err == nil || !errors.As(err, &pe) || pe.Path != "base_path" {
			t.Fatalf("err = %v, want a base_path error", err)
		}
	})
}
