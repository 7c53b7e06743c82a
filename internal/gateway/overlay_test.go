package gateway

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/openapi"
)

// testOverlay bounds createUser's body (declaring name, maxLength 5, and
// host, checked for shell metacharacters by x-gatehouse-shell) and gives
// getUser a JSON response schema.
const testOverlay = `overlay: 1.0.0
info: {title: bound, version: "1"}
actions:
  - target: $.paths['/users'].post.requestBody.content['application/json'].schema
    update:
      properties:
        name: {type: string, maxLength: 5}
        host: {type: string, maxLength: 253, x-gatehouse-shell: true}
  - target: $.paths['/users/{user_id}'].get.responses['200']
    update:
      content:
        application/json:
          schema: {type: object, properties: {ok: {type: boolean}, n: {type: integer}}}
`

const overlayRoutes = `spec_overlays: [%s]
routes:
  deleteUser: {deny: true}
  getOrderItem:
    constraints:
      "path:item_id": {max_length: 3, pattern: "^[a-z]+$"}
  getUser: {mask: [ok]}
`

func startOverlay(t *testing.T, opts ...envOpt) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	ovPath := filepath.Join(dir, "bound.yaml")
	writeFile(t, ovPath, testOverlay)
	e := start(t, strings.Replace(overlayRoutes, "%s", ovPath, 1), opts...)
	return e, ovPath
}

// TestOverlayEnforcedThroughListener: what spec_overlays and routes edits
// add is enforced by the real listener, and what they refuse never reaches
// the upstream.
func TestOverlayEnforcedThroughListener(t *testing.T) {
	e, _ := startOverlay(t)
	if got := e.srv.Pipeline().Overlays().String(); got != "2 files, 5 actions, 5 nodes changed" {
		t.Errorf("Overlays() = %q", got)
	}
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		forwarded                bool
	}{
		{"bounded field ok", "POST", "/users", `{"name":"abcde"}`, 200, true},
		{"bounded field too long", "POST", "/users", `{"name":"abcdef"}`, 400, false},
		{"too long, escaped", "POST", "/users", `{"name":"abc\u0064ef"}`, 400, false},
		{"too long, duplicate key", "POST", "/users", `{"name":"a","name":"abcdef"}`, 400, false},
		{"undeclared field still refused", "POST", "/users", `{"nam":"a"}`, 400, false},
		{"x-gatehouse-shell from the overlay, benign", "POST", "/users", `{"host":"db.example.com"}`, 200, true},
		{"x-gatehouse-shell from the overlay, injection", "POST", "/users", `{"host":"db; rm -rf /"}`, 400, false},
		{"x-gatehouse-shell from the overlay, backticks", "POST", "/users", `{"host":"` + "`id`" + `"}`, 400, false},
		{"denied op", "DELETE", "/users/1", "", 405, false},
		{"denied op, lower-case method", "delete", "/users/1", "", 405, false},
		{"denied op, override header", "POST", "/users/1", "", 405, false},
		{"constrained path param ok", "GET", "/orders/1/items/abc", "", 200, true},
		{"constrained path param too long", "GET", "/orders/1/items/abcd", "", 400, false},
		{"constrained path param pattern", "GET", "/orders/1/items/a%2Bb", "", 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.requests.Load()
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			hdr := json
			if tc.name == "denied op, override header" {
				hdr = map[string]string{"X-HTTP-Method-Override": "DELETE"}
			}
			res, got := e.do(tc.method, tc.path, hdr, body)
			if res.StatusCode != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, res.StatusCode, got, tc.want)
			}
			if fwd := e.up.requests.Load() > before; fwd != tc.forwarded {
				t.Errorf("forwarded = %v, want %v", fwd, tc.forwarded)
			}
		})
	}
	// routes.getUser.mask removes "ok" from the response.
	res, got := e.do("GET", "/users/1", nil, nil)
	if res.StatusCode != 200 || strings.Contains(got, "ok") {
		t.Errorf("GET /users/1 = %d %s, want 200 without \"ok\"", res.StatusCode, got)
	}
}

// TestOverlayReloadBrokenKeepsServing: the watcher reloads when an overlay
// file changes; a broken overlay fails the reload with the overlay's
// file:line:col and the old pipeline keeps enforcing; a fixed one applies.
func TestOverlayReloadBrokenKeepsServing(t *testing.T) {
	e, ovPath := startOverlay(t, func(o *ServerOptions) { o.Watch = true; o.WatchDebounce = 20 * time.Millisecond })
	<-e.srv.watching
	good := e.srv.Pipeline()
	json := map[string]string{"Content-Type": "application/json"}
	wait := func() error {
		t.Helper()
		select {
		case err := <-e.reloaded:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("no reload after the overlay changed")
			return nil
		}
	}
	for _, tc := range []struct{ name, overlay, want string }{
		{"stale target", strings.Replace(testOverlay, "/users'].post", "/people'].post", 1), "bound.yaml:4:13: actions[0]: target"},
		{"yaml syntax", "overlay: 1.0.0\ninfo: {title: x\n", "bound.yaml"},
		{"alias bomb", "overlay: 1.0.0\ninfo: {title: x, version: '1'}\nx: &a [1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nactions:\n  - {target: $.info, update: {x: *b}}\n", "bound.yaml:4:8: yaml aliases are not allowed"},
		{"invalid result", testOverlay + "  - target: $.paths['/users'].post.requestBody.content['application/json'].schema\n    update: {$ref: '#/components/schemas/Nowhere'}\n", "bound.yaml:14:13: actions[2]: this action makes spec"},
		{"not an overlay", "openapi: 3.1.0\n", "bound.yaml:1:1"},
		{"empty", "", "bound.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, ovPath, tc.overlay)
			err := wait()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "spec_overlays") {
				t.Errorf("reload error %q is not located at spec_overlays", err)
			}
			if e.srv.Pipeline() != good {
				t.Fatal("a failed reload replaced the pipeline")
			}
			if res, _ := e.do("POST", "/users", json, strings.NewReader(`{"name":"abcdef"}`)); res.StatusCode != 400 {
				t.Fatalf("old constraint after failed reload: %d, want 400", res.StatusCode)
			}
		})
	}
	writeFile(t, ovPath, strings.Replace(testOverlay, "maxLength: 5", "maxLength: 3", 1))
	if err := wait(); err != nil {
		t.Fatalf("good overlay reload: %v", err)
	}
	if res, _ := e.do("POST", "/users", json, strings.NewReader(`{"name":"abcd"}`)); res.StatusCode != 400 {
		t.Fatalf("new constraint after reload: %d, want 400", res.StatusCode)
	}
}

// TestOverlayBuildErrorsLocated: Build errors of routes edits point at the
// routes key; overlay errors at spec_overlays.
func TestOverlayBuildErrorsLocated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), testSpec)
	for _, tc := range []struct{ name, extra, path string }{
		{"unknown op", "routes:\n  nope: {deny: true}\n", "routes.nope"},
		{"unknown field", "routes:\n  createUser:\n    constraints:\n      /name: {max_length: 1}\n", "routes.createUser.constraints./name"},
		{"unknown param", "routes:\n  getUser:\n    constraints:\n      query:q: {max_length: 1}\n", "routes.getUser.constraints.query:q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, "gatehouse.yaml")
			writeFile(t, cfgPath, configYAML("http://127.0.0.1:1", tc.extra))
			cfg, err := config.Check(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(t.Context(), cfg, Deps{})
			if !errors.Is(err, openapi.ErrInvalidOverlay) {
				t.Fatalf("Build error = %v, want ErrInvalidOverlay", err)
			}
			err = cfg.Locate(err)
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != tc.path || ve.Problems[0].Line == 0 {
				t.Fatalf("located = %v, want one problem at %s with a line", err, tc.path)
			}
		})
	}
}

// TestOverlayReloadRereadsOverlays: a reload (what SIGHUP and POST
// /-/reload run) reads the overlay files again, without a file watch.
func TestOverlayReloadRereadsOverlays(t *testing.T) {
	e, ovPath := startOverlay(t)
	json := map[string]string{"Content-Type": "application/json"}
	if res, _ := e.do("POST", "/users", json, strings.NewReader(`{"name":"abcd"}`)); res.StatusCode != 200 {
		t.Fatalf("4 characters under maxLength 5: %d, want 200", res.StatusCode)
	}
	writeFile(t, ovPath, strings.Replace(testOverlay, "maxLength: 5", "maxLength: 3", 1))
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := e.up.requests.Load()
	if res, _ := e.do("POST", "/users", json, strings.NewReader(`{"name":"abcd"}`)); res.StatusCode != 400 {
		t.Fatalf("4 characters after the reload to maxLength 3: %d, want 400", res.StatusCode)
	}
	if e.up.requests.Load() != before {
		t.Fatal("the refused request reached the upstream")
	}
}
