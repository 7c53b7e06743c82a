package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

const selfIssuedSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      operationId: getUser
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
`

// authnServer runs a full Server (public and admin listener on 127.0.0.1)
// over cfgYAML and spec; it returns the public and admin base URLs and the
// captured log.
type authnServer struct {
	base, admin string
	logs        *syncBuf
}

func startAuthnServer(t *testing.T, cfgYAML, spec string, opts ...func(*ServerOptions)) *authnServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, filepath.Join(dir, "openapi.yaml"), spec)
	writeFile(t, cfg, cfgYAML)
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	as := &authnServer{base: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String(), logs: &syncBuf{}}
	so := ServerOptions{ConfigPath: cfg, PublicListener: pub, AdminListener: adm,
		Logger: slog.New(slog.NewJSONHandler(as.logs, nil))}
	for _, o := range opts {
		o(&so)
	}
	srv, err := NewServer(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return as
}

// get sends GET path with the bearer token and returns the status and the
// subject header the upstream saw (echoed by upstreamEcho).
func (as *authnServer) get(t *testing.T, path, tok string) (int, string) {
	t.Helper()
	return as.send(t, "GET", path, tok)
}

func (as *authnServer) post(t *testing.T, path, tok string) (int, string) {
	t.Helper()
	return as.send(t, "POST", path, tok)
}

func (as *authnServer) send(t *testing.T, method, path, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, as.base+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Seen-Subject")
}

// readyz returns the decoded /readyz body and status.
func (as *authnServer) readyz(t *testing.T) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(as.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestAuthnSelfIssuedTokens puts the gateway in front of an API that mints
// its own HS256 tokens with a 10-byte secret, no iss, no aud and the user in
// a numeric user_id claim: with the explicit opt-ins ownership works, and
// nothing beyond the opt-ins gets through.
func TestAuthnSelfIssuedTokens(t *testing.T) {
	const secret = "s3cr3t-key"
	t.Setenv("GH_TEST_LEGACY_SECRET", secret)
	up := upstreamEcho(t)
	as := startAuthnServer(t, `listen: "127.0.0.1:0"
admin: "127.0.0.1:1"
upstream: "`+up.URL+`"
spec: openapi.yaml
authn:
  jwt:
    - issuer: legacy-api
      algorithms: [HS256]
      hs_secret: "${GH_TEST_LEGACY_SECRET}"
      allow_weak_secret: true
      require_issuer: false
      require_audience: false
      subject_claim: user_id
      max_token_lifetime: 1h
authz:
  rules:
    getUser: { owner: { param: user_id, claim: sub } }
`, selfIssuedSpec)
	key, err := jwk.Import([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	tok := func(alg string, k jwk.Key, claims map[string]any) string {
		t.Helper()
		c := map[string]any{"iat": now, "exp": now + 600}
		for name, v := range claims {
			if v == nil {
				delete(c, name)
				continue
			}
			c[name] = v
		}
		s, err := jwt.Mint(c, alg, k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := jwk.Import([]byte("s3cr3t-kez"))
	long, _ := jwk.Import([]byte(strings.Repeat("k", 64)))

	t.Run("numeric user_id owns its path id", func(t *testing.T) {
		code, sub := as.get(t, "/users/42", tok("HS256", key, map[string]any{"user_id": 42}))
		if code != 200 || sub != "42" {
			t.Fatalf("GET /users/42 = %d, upstream saw subject %q; want 200, 42", code, sub)
		}
	})
	t.Run("string user_id owns its path id", func(t *testing.T) {
		if code, sub := as.get(t, "/users/42", tok("HS256", key, map[string]any{"user_id": "42"})); code != 200 || sub != "42" {
			t.Fatalf("GET = %d, %q", code, sub)
		}
	})
	for _, tc := range []struct {
		name string
		path string
		tok  string
		want int
	}{
		{"another user's id", "/users/43", tok("HS256", key, map[string]any{"user_id": 42}), 403},
		{"id spelled 042 in the path", "/users/042", tok("HS256", key, map[string]any{"user_id": 42}), 403},
		{"no user_id, sub names the owner", "/users/42", tok("HS256", key, map[string]any{"sub": "42"}), 401},
		{"user_id 42.0", "/users/42", tok("HS256", key, map[string]any{"user_id": json.RawMessage("42.0")}), 401},
		{"user_id 4.2e1", "/users/42", tok("HS256", key, map[string]any{"user_id": json.RawMessage("4.2e1")}), 401},
		{"user_id array", "/users/42", tok("HS256", key, map[string]any{"user_id": []int{42}}), 401},
		{"user_id true", "/users/42", tok("HS256", key, map[string]any{"user_id": true}), 401},
		{"user_id empty", "/users/42", tok("HS256", key, map[string]any{"user_id": ""}), 401},
		{"another issuer named", "/users/42", tok("HS256", key, map[string]any{"user_id": 42, "iss": "other-api"}), 401},
		{"signed with a near-miss secret", "/users/42", tok("HS256", other, map[string]any{"user_id": 42}), 401},
		{"HS512 with a long secret (alg not allowed)", "/users/42", tok("HS512", long, map[string]any{"user_id": 42}), 401},
		{"alg none", "/users/42", unsigned(t, map[string]any{"user_id": 42, "exp": now + 600}), 401},
		{"year-long token without iat", "/users/42", tok("HS256", key, map[string]any{"user_id": 42, "iat": nil, "exp": now + 365*86400}), 401},
		{"year-long token with iat", "/users/42", tok("HS256", key, map[string]any{"user_id": 42, "exp": now + 365*86400}), 401},
		{"iat 2h ago, 10m left: 2h10m life", "/users/42", tok("HS256", key, map[string]any{"user_id": 42, "iat": now - 7200}), 401},
		{"no exp", "/users/42", tok("HS256", key, map[string]any{"user_id": 42, "exp": nil}), 401},
		{"anonymous", "/users/42", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, sub := as.get(t, tc.path, tc.tok); code != tc.want || (code != 200 && sub != "") {
				t.Fatalf("GET %s = %d (upstream saw %q), want %d and no upstream call", tc.path, code, sub, tc.want)
			}
		})
	}
	t.Run("readyz reports the weak secret degraded", func(t *testing.T) {
		code, body := as.readyz(t)
		checks, _ := body["checks"].(map[string]any)
		deg, _ := body["degraded"].([]any)
		if code != 200 || checks["authn_weak_secret"] != "degraded" || len(deg) != 1 || deg[0] != "authn_weak_secret" {
			t.Fatalf("/readyz = %d %v; want 200 with authn_weak_secret degraded", code, body)
		}
		if strings.Contains(as.logs.String(), secret) {
			t.Fatal("the secret appears in the log")
		}
		if !strings.Contains(as.logs.String(), "anyone who guesses it can mint tokens") {
			t.Fatalf("no startup warning about the weak secret in %s", as.logs.String())
		}
	})
}

// unsigned builds an alg:none token (empty signature) by hand.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "."
}
