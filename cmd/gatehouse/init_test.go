package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

// TestInitExamples: init on each example spec writes a config that
// validates as written (load, validate and build), and an overlay whose
// targets all parse.
func TestInitExamples(t *testing.T) {
	for _, spec := range []string{"../../examples/demo/openapi.yaml", "../../examples/basic/openapi.yaml", "../../audit/testdata/report-api.yaml"} {
		t.Run(filepath.Base(filepath.Dir(spec)), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "gatehouse.yaml")
			files, err := runInit(context.Background(), spec, out, "http://127.0.0.1:5000", false)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) < 2 {
				t.Fatalf("wrote %v, want config and overlay", files)
			}
			var buf bytes.Buffer
			if err := runValidate(context.Background(), &buf, out, true); err != nil {
				cfg, _ := os.ReadFile(out)
				t.Fatalf("validate: %v\n%s\n%s", err, buf.String(), cfg)
			}
			if !strings.Contains(buf.String(), out+": ok") {
				t.Errorf("validate output %q lacks ok", buf.String())
			}
			// validate prints what the generated overlay (spec_overlays) changed.
			if !regexp.MustCompile(`gatehouse.yaml:\d+:\d+: spec_overlays: overlays: 1 file, [1-9]\d* actions?, [1-9]\d* nodes? changed\n`).MatchString(buf.String()) {
				t.Errorf("validate output %q lacks the overlay summary", buf.String())
			}
			cfg, err := config.Check(out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Authz.Default != "deny" || cfg.Response.Mode != "filter" || cfg.Headers.Preset != "strict" ||
				!cfg.Request.RejectUnknownProperties || cfg.Errors.ExposeDetails {
				t.Errorf("config is not secure by default: authz.default %q response.mode %q headers %q reject_unknown %v expose %v",
					cfg.Authz.Default, cfg.Response.Mode, cfg.Headers.Preset, cfg.Request.RejectUnknownProperties, cfg.Errors.ExposeDetails)
			}
			ov, _ := initFiles(out)
			b, err := os.ReadFile(ov)
			if err != nil {
				t.Fatal(err)
			}
			if _, skipped, err := audit.OverlayTargets(b); err != nil || skipped > 0 {
				t.Errorf("overlay: %v, %d targets outside the JSONPath subset", err, skipped)
			}
			if _, err := runInit(context.Background(), spec, out, "", false); err == nil {
				t.Error("init overwrote existing files without --force")
			}
		})
	}
}

// TestInitConfigAudit: the audit's coverage rules find nothing to cover in
// the config init wrote for the demo spec, except what needs a human.
func TestInitConfigAudit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if _, err := runInit(context.Background(), "../../examples/demo/openapi.yaml", out, "", false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(out)
	if err != nil {
		t.Fatal(err)
	}
	gw := gatewayFromConfig(cfg)
	res, err := runAudit(context.Background(), "../../examples/demo/openapi.yaml", gw, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		switch f.RuleID {
		case "GH1401", "GH1403", "GH1404":
			t.Errorf("init config still has %s: %s", f.RuleID, f.Detail)
		}
	}
}

// TestInitGatewayServes runs the gateway built from an init-generated
// config (demo spec) in front of a test upstream, with a real RSA JWKS
// issuer, and checks the secure defaults from the client's side.
func TestInitGatewayServes(t *testing.T) {
	// identity provider: RSA key, JWKS over HTTP
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := jwk.Import(priv)
	_ = key.Set(jwk.KeyIDKey, "k1")
	_ = key.Set(jwk.AlgorithmKey, "RS256")
	pub, _ := key.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	jwks, _ := json.Marshal(set)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	defer idp.Close()

	// upstream: answers everything, leaking a field the spec does not declare
	var (
		mu           sync.Mutex
		upstreamHits []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamHits = append(upstreamHits, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/health":
			io.WriteString(w, `{"status":"ok"}`)
		case r.URL.Path == "/login":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"title":"bad credentials"}`)
		case strings.HasPrefix(r.URL.Path, "/users/"):
			io.WriteString(w, `{"id":1,"username":"alice","email":"a@example.com","role":"user","password_hash":"$2b$10$leak"}`)
		case r.URL.Path == "/admin/stats":
			io.WriteString(w, `{"users":2,"notes":3}`)
		default:
			io.WriteString(w, `[]`)
		}
	}))
	defer up.Close()

	dir := t.TempDir()
	out := filepath.Join(dir, "gatehouse.yaml")
	if _, err := runInit(context.Background(), "../../examples/demo/openapi.yaml", out, "", false); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_UPSTREAM", up.URL)
	t.Setenv("GATEHOUSE_JWT_ISSUER", "https://idp.test/")
	t.Setenv("GATEHOUSE_JWT_JWKS_URL", idp.URL+"/jwks.json")
	t.Setenv("GATEHOUSE_JWT_AUDIENCE", "demo-api")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(context.Background(), gateway.ServerOptions{ConfigPath: out, PublicListener: ln,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cfg, _ := os.ReadFile(out)
		t.Fatalf("NewServer: %v\n%s", err, cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	now := time.Now()
	token := func(sub string, roles ...string) string {
		tok, err := jwt.Mint(map[string]any{"iss": "https://idp.test/", "aud": "demo-api", "sub": sub, "roles": roles,
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}, "RS256", key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	do := func(method, path, tok, body string) (*http.Response, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	alice, admin := token("1", "user"), token("99", "admin")
	unsigned := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(alice, ".")[1] + "."

	for _, tc := range []struct {
		name, method, path, tok, body string
		want                          int
	}{
		{"public health", "GET", "/health", "", "", 200},
		{"anonymous denied", "GET", "/users", "", "", 401},
		{"unsigned token", "GET", "/users", unsigned, "", 401},
		{"authenticated list", "GET", "/users", alice, "", 200},
		{"own user", "GET", "/users/1", alice, "", 200},
		{"other user (BOLA)", "GET", "/users/2", alice, "", 403},
		{"admin reads any user", "GET", "/users/2", admin, "", 200},
		{"admin stats as user", "GET", "/admin/stats", alice, "", 403},
		{"admin stats as admin", "GET", "/admin/stats", admin, "", 200},
		{"mass assignment", "PATCH", "/users/1", alice, `{"email":"a@example.com","role":"admin"}`, 400},
		{"undeclared route", "GET", "/debug/vars", alice, "", 404},
		// gatehouse.overlay.yaml (spec_overlays) bounds user_id at 1000000.
		{"init overlay bound", "GET", "/users/1000001", admin, "", 400},
		{"init overlay bound, at the limit", "GET", "/users/1000000", admin, "", 200},
	} {
		res, body := do(tc.method, tc.path, tc.tok, tc.body)
		if res.StatusCode != tc.want {
			t.Errorf("%s: %s %s = %d, want %d: %s", tc.name, tc.method, tc.path, res.StatusCode, tc.want, body)
		}
	}
	res, body := do("GET", "/users/1", alice, "")
	if strings.Contains(body, "password_hash") || strings.Contains(body, "leak") {
		t.Errorf("response filtering off: %s", body)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("strict headers missing: %v", res.Header)
	}
	// brute force: per_ip 5/min burst 5 on login
	limited := false
	for i := 0; i < 8 && !limited; i++ {
		res, _ := do("POST", "/login", "", `{"username":"alice","password":"guess`+string(rune('a'+i))+`"}`)
		limited = res.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("8 failed logins from one IP were never limited (want 429 after 5)")
	}
	// denied requests never reached the upstream
	counts := map[string]int{}
	mu.Lock()
	for _, h := range upstreamHits {
		counts[h]++
	}
	mu.Unlock()
	if counts["GET /admin/stats"] != 1 || counts["GET /users/2"] != 1 || counts["PATCH /users/1"] != 0 || counts["GET /debug/vars"] != 0 ||
		counts["GET /users/1000001"] != 0 || counts["GET /users/1000000"] != 1 {
		t.Errorf("upstream saw %v; want admin stats and /users/2 once (the admin's), no PATCH, no /debug, no user_id over the overlay's bound", counts)
	}
}
