package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
)

const cookieSpec = `openapi: 3.0.3
info: {title: shop, version: "1"}
paths:
  /login:
    post:
      operationId: login
      responses: {"200": {description: ok}}
  /cart:
    get:
      operationId: getCart
      responses: {"200": {description: ok}}
    post:
      operationId: addToCart
      responses: {"200": {description: ok}}
`

func cookieGateway(t *testing.T, cookies string) (*httptest.Server, func() int) {
	t.Helper()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/login" {
			w.Header().Add("Set-Cookie", "sid=opaque-session-1; Path=/")
			w.Header().Add("Set-Cookie", "pref=dark; Path=/; SameSite=None")
			w.Header().Add("Set-Cookie", "theme=x; HttpOnly; Secure; SameSite=Strict")
			w.Header().Add("Set-Cookie", "=novalue; Path=/") // unparsable: no name
		}
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(cookieSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte("upstream: \""+up.URL+"\"\nspec: spec.yaml\nauthz: {default: public}\nresponse: {mode: off}\n"+cookies), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	p, err := Build(context.Background(), cfg, Deps{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	gw := httptest.NewServer(p)
	t.Cleanup(gw.Close)
	return gw, func() int { return int(hits.Load()) }
}

func TestCookieAttributesAdded(t *testing.T) {
	gw, _ := cookieGateway(t, "cookies: {secure: true, http_only: true, same_site: lax}\n")
	resp, err := http.Post(gw.URL+"/login", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := resp.Header.Values("Set-Cookie")
	if len(got) != 3 {
		t.Fatalf("Set-Cookie = %q, want 3 (the nameless one dropped)", got)
	}
	for _, c := range got {
		for _, attr := range []string{"; Secure", "; HttpOnly", "; SameSite=Lax"} {
			if !strings.Contains(c, attr) {
				t.Errorf("Set-Cookie %q lacks %q", c, attr)
			}
		}
		if strings.Contains(c, "SameSite=None") || strings.Contains(c, "SameSite=Strict") {
			t.Errorf("Set-Cookie %q keeps the upstream's SameSite", c)
		}
	}
	if !strings.HasPrefix(got[0], "sid=opaque-session-1") {
		t.Errorf("first cookie = %q, want sid kept", got[0])
	}

	// Without the section nothing is changed.
	gw2, _ := cookieGateway(t, "")
	resp, err = http.Post(gw2.URL+"/login", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Values("Set-Cookie"); len(v) != 4 || v[0] != "sid=opaque-session-1; Path=/" {
		t.Errorf("no policy: Set-Cookie = %q, want the upstream's 4 unchanged", v)
	}
}

// TestCookieCrossOrigin attacks a cookie session from other origins
// through the listener, with the headers browsers send.
func TestCookieCrossOrigin(t *testing.T) {
	gw, hits := cookieGateway(t, "cookies: {cross_origin_protection: true, trusted_origins: [\"https://app.example.com\"]}\n")
	host := strings.TrimPrefix(gw.URL, "http://")
	tests := []struct {
		name   string
		method string
		hdr    map[string]string
		want   int
	}{
		{"cross-site POST with cookie (old browser: Origin only)", "POST", map[string]string{"Cookie": "sid=1", "Origin": "https://evil.example"}, 403},
		{"cross-site POST with cookie (Sec-Fetch-Site)", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"same-site POST with cookie (sibling subdomain)", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "same-site", "Origin": "https://other." + host}, 403},
		{"Sec-Fetch-Site cross-site lying Origin", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "cross-site", "Origin": "http://" + host}, 403},
		{"Origin null with cookie", "POST", map[string]string{"Cookie": "sid=1", "Origin": "null"}, 403},
		{"Origin same host other port", "POST", map[string]string{"Cookie": "sid=1", "Origin": "http://127.0.0.1:1"}, 403},
		{"Sec-Fetch-Site cross-site without Origin", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "cross-site"}, 403},
		{"second Cookie header only", "POST", map[string]string{"cookie": "a=b", "Origin": "https://evil.example"}, 403},
		{"same-origin POST (Sec-Fetch-Site)", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "same-origin", "Origin": "http://" + host}, 200},
		{"same-origin POST (Origin = Host)", "POST", map[string]string{"Cookie": "sid=1", "Origin": "http://" + host}, 200},
		{"user-typed navigation (Sec-Fetch-Site none)", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "none"}, 200},
		{"trusted origin", "POST", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, 200},
		{"non-browser client: cookie, no Origin, no Sec-Fetch-Site", "POST", map[string]string{"Cookie": "sid=1"}, 200},
		{"cross-site GET with cookie (safe method)", "GET", map[string]string{"Cookie": "sid=1", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 200},
		{"cross-site POST without cookie (bearer API call)", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Authorization": "Bearer x"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits()
			req, _ := http.NewRequest(tt.method, gw.URL+"/cart", nil)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
			if reached := hits() > before; reached != (tt.want == 200) {
				t.Errorf("upstream reached = %v, want %v", reached, tt.want == 200)
			}
		})
	}
}

func TestCookieConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"cookies: {same_site: none}", "cookies.same_site"},
		{"cookies: {same_site: loose}", "cookies.same_site"},
		{"cookies: {cross_origin_protection: true, trusted_origins: [\"https://app.example.com/path\"]}", "cookies.trusted_origins[0]"},
		{"cookies: {cross_origin_protection: true, trusted_origins: [\"app.example.com\"]}", "cookies.trusted_origins[0]"},
	} {
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(cookieSpec), 0o600)
		p := filepath.Join(dir, "g.yaml")
		_ = os.WriteFile(p, []byte("upstream: http://127.0.0.1:1\nspec: spec.yaml\nauthz: {default: public}\n"+tc.yaml+"\n"), 0o600)
		_, err := config.Check(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one at %s", tc.yaml, err, tc.want)
		}
	}
}
