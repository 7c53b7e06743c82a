package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// get fetches url with an optional bearer token and returns status and body.
func pprofGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b)
}

// pprofIndexMarker is text of net/http/pprof's index page.
const pprofIndexMarker = "Types of profiles available"

var pprofPaths = []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/symbol"}

func TestPprofOffByDefault(t *testing.T) {
	e := start(t, "")
	for _, base := range []string{e.admin, e.base} {
		for _, p := range pprofPaths {
			if code, body := pprofGet(t, base+p, ""); code != http.StatusNotFound || strings.Contains(body, pprofIndexMarker) {
				t.Errorf("GET %s%s = %d (%.60q), want 404 with pprof off", base, p, code, body)
			}
		}
	}
}

func TestPprofOnAdminOnly(t *testing.T) {
	e := start(t, "pprof: true\n")
	code, body := pprofGet(t, e.admin+"/debug/pprof/", "")
	if code != http.StatusOK || !strings.Contains(body, pprofIndexMarker) {
		t.Fatalf("admin GET /debug/pprof/ = %d (%.80q), want the pprof index", code, body)
	}
	if code, body := pprofGet(t, e.admin+"/debug/pprof/goroutine?debug=1", ""); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("admin goroutine profile = %d (%.80q)", code, body)
	}
	// The public listener never serves them, however the path is spelled.
	for _, p := range append(pprofPaths, "/debug/pprof", "//debug/pprof/", "/debug/%70prof/", "/DEBUG/PPROF/", "/debug/pprof/../pprof/cmdline", "/x/../debug/pprof/") {
		code, body := pprofGet(t, e.base+p, "")
		if code == http.StatusOK || strings.Contains(body, pprofIndexMarker) || strings.Contains(body, "goroutine profile:") {
			t.Errorf("public GET %s = %d (%.80q): pprof must not be on the public listener", p, code, body)
		}
	}
	// A reload that turns it off takes effect at once.
	writeFile(t, e.cfgPath, configYAML(e.up.URL, ""))
	if err := e.srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, _ := pprofGet(t, e.admin+"/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("admin GET /debug/pprof/ after reload with pprof off = %d, want 404", code)
	}
}

func TestPprofNeedsAdminToken(t *testing.T) {
	const tok = "s3cret-admin-token-0123456789"
	t.Setenv("GH_TEST_ADMIN_TOKEN", tok)
	e := start(t, "pprof: true\nadmin_auth: {token_env: GH_TEST_ADMIN_TOKEN}\n")
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", tok + "x", http.StatusUnauthorized},
		{"right", tok, http.StatusOK},
	} {
		if code, _ := pprofGet(t, e.admin+"/debug/pprof/cmdline", tc.token); code != tc.want {
			t.Errorf("GET /debug/pprof/cmdline with %s token = %d, want %d", tc.name, code, tc.want)
		}
	}
}
