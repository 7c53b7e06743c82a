package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// TestSecretsNeverLogged runs a whole server (public and admin listeners)
// with every kind of configured secret, debug logging on, and drives it:
// HS256 JWTs (good and forged), an API key, an opaque token introspected
// with the client secret, an admin reload with the admin token (and with
// a wrong one), requests after the reload. Then every log line is
// searched for every secret value and every credential sent.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		hsSecret     = "hs-secret-0123456789-abcdefghijklmnop" // 37 bytes
		adminToken   = "admin-token-9f8e7d6c5b4a3210"
		clientSecret = "client-secret-5a4b3c2d1e"
		apiKey       = "gh_live_key_7c1f0e9d8b"
		opaque       = "opaque-token-2b3c4d5e6f"
	)
	t.Setenv("GH_TEST_HS_SECRET", hsSecret)
	t.Setenv("GH_TEST_ADMIN_TOKEN", adminToken)
	t.Setenv("GH_TEST_CLIENT_SECRET", clientSecret)

	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, s, ok := r.BasicAuth(); !ok || id != "gatehouse" || s != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.PostFormValue("token") != opaque {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "opaque-user", "aud": "orders-api",
			"exp": time.Now().Add(time.Hour).Unix()})
	}))
	defer idp.Close()
	up := upstreamEcho(t)

	dir := t.TempDir()
	sum := sha256.Sum256([]byte(apiKey))
	keys := filepath.Join(dir, "keys.yaml")
	writeFile(t, keys, "- {hash: \"sha256:"+hex.EncodeToString(sum[:])+"\", subject: key-user}\n")

	logs := &syncBuffer{}
	as := startAuthnServer(t, fmt.Sprintf(`listen: "127.0.0.1:0"
admin: "127.0.0.1:1"
admin_auth: { token_env: GH_TEST_ADMIN_TOKEN }
upstream: %q
spec: openapi.yaml
log: { level: debug }
authn:
  jwt:
    - issuer: gatehouse-test
      audiences: [orders-api]
      algorithms: [HS256]
      hs_secret: "${GH_TEST_HS_SECRET}"
  api_keys: { file: %q }
  introspection:
    endpoint: %q
    client_id: gatehouse
    client_secret: "${GH_TEST_CLIENT_SECRET}"
    audiences: [orders-api]
`, up.URL, keys, idp.URL+"/introspect"), authnTestSpec, func(o *ServerOptions) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.EnableReload = true
	})

	key, err := jwk.Import([]byte(hsSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "jwt-user",
		"exp": time.Now().Add(time.Hour).Unix()}, "HS256", key)
	if err != nil {
		t.Fatal(err)
	}
	badKey, _ := jwk.Import([]byte("a-different-secret-of-32-bytes!!"))
	forged, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "admin",
		"exp": time.Now().Add(time.Hour).Unix()}, "HS256", badKey)

	withKey := func() int {
		req, _ := http.NewRequest("GET", as.base+"/orders", nil)
		req.Header.Set("X-API-Key", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reload := func(bearer string) int {
		req, _ := http.NewRequest("POST", as.admin+"/-/reload", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	round := func() {
		t.Helper()
		if code, sub := as.get(t, "/orders", tok); code != 200 || sub != "jwt-user" {
			t.Fatalf("JWT: %d %q, want 200 jwt-user", code, sub)
		}
		if code, _ := as.get(t, "/orders", forged); code != 401 {
			t.Fatalf("forged JWT: %d, want 401", code)
		}
		if code, sub := as.get(t, "/orders", opaque); code != 200 || sub != "opaque-user" {
			t.Fatalf("opaque token: %d %q, want 200 opaque-user", code, sub)
		}
		if code := withKey(); code != 200 {
			t.Fatalf("API key: %d, want 200", code)
		}
	}
	round()
	if code := reload("wrong-" + adminToken); code != 401 && code != 403 {
		t.Fatalf("reload with a wrong token = %d, want 401/403", code)
	}
	if code := reload(adminToken); code != 200 {
		t.Fatalf("reload = %d, want 200", code)
	}
	round()

	all := logs.String()
	if !strings.Contains(all, "config reloaded") || !strings.Contains(all, `"msg":"request"`) {
		t.Fatalf("the log does not cover the run:\n%s", all)
	}
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d log lines", len(lines))
	}
	for name, v := range map[string]string{"hs_secret": hsSecret, "admin token": adminToken,
		"client secret": clientSecret, "API key": apiKey, "opaque token": opaque, "JWT": tok, "forged JWT": forged,
		"JWT signature": tok[strings.LastIndexByte(tok, '.')+1:]} {
		for i, l := range lines {
			if strings.Contains(l, v) {
				t.Errorf("log line %d holds the %s: %s", i+1, name, l)
			}
		}
	}
	t.Logf("%d log lines searched", len(lines))
}
