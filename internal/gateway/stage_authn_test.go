package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const authnTestSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /orders:
    get:
      operationId: listOrders
      responses: {"200": {description: ok}}
  /logout:
    post:
      operationId: logout
      responses: {"204": {description: ok}}
`

// authnFixture writes a spec, a signing key (private PEM: the gateway uses
// its public half, as with `gatehouse token`) and a config using store.
func authnFixture(t *testing.T, upstream, store string) (*config.Config, jwk.Key) {
	t.Helper()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.Import(priv)
	pem, err := jwk.Pem(k)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("signing.pem", string(pem))
	write("openapi.yaml", authnTestSpec)
	write("gatehouse.yaml", fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
spec: openapi.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [signing.pem]
      audiences: [orders-api]
      algorithms: [EdDSA]
  revocation: { store: %q }
  logout_operation: logout
`, upstream, store))
	cfg, err := config.Check(filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	set, err := jwt.ParseKeys(pem) // gives the key its thumbprint kid, as the gateway does
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := set.Key(0)
	return cfg, signer
}

func upstreamEcho(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Subject", r.Header.Get("X-Gatehouse-Subject"))
		w.Header().Set("X-Seen-Spoof", r.Header.Get("X_Gatehouse_Subject")+r.Header.Get("X-Gatehouse-Roles"))
		if r.URL.Path == "/logout" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	return up
}

func do(t *testing.T, srv *httptest.Server, method, path, tok string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header[hdr[i]] = []string{hdr[i+1]}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestAuthnTwoGatewaysShareRedis builds two full pipelines (as two gateway
// processes would) on one real Redis: a logout through one, and an admin
// "log out everywhere" through the other's admin handler, must make the
// token fail on both within one second.
func TestAuthnTwoGatewaysShareRedis(t *testing.T) {
	redisURL := testutil.RedisURL(t)
	up := upstreamEcho(t)
	cfg, signer := authnFixture(t, up.URL, redisURL)
	var gws []*httptest.Server
	for range 2 {
		p, err := Build(context.Background(), cfg, Deps{})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		t.Cleanup(func() { _ = p.Close() })
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		gws = append(gws, srv)
	}
	a, b := gws[0], gws[1]
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	mintFor := func(sub string) string {
		tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": sub,
			"jti": hex.EncodeToString(rnd[:]) + sub, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := mintFor("alice")
	for _, gw := range []*httptest.Server{a, b} {
		resp := do(t, gw, "GET", "/orders", tok, "X_Gatehouse_Subject", "root", "X-Gatehouse-Roles", "admin")
		if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Subject") != "alice" || resp.Header.Get("X-Seen-Spoof") != "" {
			t.Fatalf("GET /orders = %d subject %q spoof %q; want 200, alice, none", resp.StatusCode,
				resp.Header.Get("X-Seen-Subject"), resp.Header.Get("X-Seen-Spoof"))
		}
	}
	if got := do(t, a, "GET", "/orders", "").StatusCode; got != 401 {
		t.Fatalf("anonymous GET = %d, want 401 (authz default authenticated)", got)
	}
	start := time.Now()
	if got := do(t, a, "POST", "/logout", tok).StatusCode; got != 204 {
		t.Fatalf("logout via A = %d, want 204", got)
	}
	waitRejected(t, b, tok, start)

	t.Run("admin revoke by subject", func(t *testing.T) {
		bob := mintFor("bob")
		if got := do(t, b, "GET", "/orders", bob).StatusCode; got != 200 {
			t.Fatalf("GET as bob = %d", got)
		}
		bd := &builder{cfg: cfg, log: slog.New(slog.DiscardHandler), metrics: prometheus.NewRegistry(), now: time.Now}
		st, err := bd.buildAuthnStage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer runClosers(bd.closers)
		start := time.Now()
		w := httptest.NewRecorder()
		st.admin.ServeHTTP(w, httptest.NewRequest("POST", "/-/revoke", strings.NewReader(`{"sub":"bob"}`)))
		if w.Code != 200 {
			t.Fatalf("POST /-/revoke = %d %s", w.Code, w.Body)
		}
		waitRejected(t, b, bob, start)
		waitRejected(t, a, bob, start)
	})
}

func waitRejected(t *testing.T, gw *httptest.Server, tok string, start time.Time) {
	t.Helper()
	for {
		resp := do(t, gw, "GET", "/orders", tok)
		if resp.StatusCode == http.StatusUnauthorized {
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			t.Logf("revocation effective after %v", time.Since(start))
			return
		}
		if time.Since(start) > time.Second {
			t.Fatal("revoked token still accepted one second later")
		}
	}
}

func TestAuthnStageMemory(t *testing.T) {
	up := upstreamEcho(t)
	cfg, signer := authnFixture(t, up.URL, "memory")
	reg := prometheus.NewRegistry()
	p, err := Build(context.Background(), cfg, Deps{Registry: reg})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	now := time.Now()
	tok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "alice", "jti": "m1", "exp": now.Add(time.Hour).Unix()}, "EdDSA", signer)
	expired, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "alice", "exp": now.Add(-time.Hour).Unix()}, "EdDSA", signer)
	if got := do(t, gw, "GET", "/orders", tok).StatusCode; got != 200 {
		t.Fatalf("GET = %d, want 200", got)
	}
	if got := do(t, gw, "GET", "/orders", expired).StatusCode; got != 401 {
		t.Fatalf("GET expired = %d, want 401", got)
	}
	if got := do(t, gw, "POST", "/logout", tok).StatusCode; got != 204 {
		t.Fatalf("logout = %d", got)
	}
	resp := do(t, gw, "GET", "/orders", tok)
	if resp.StatusCode != 401 {
		t.Fatalf("GET after logout = %d, want 401", resp.StatusCode)
	}
	for reason, want := range map[string]float64{"expired": 1, "revoked": 1} {
		if got := counterValue(t, mustCounter(t, reg).WithLabelValues(reason)); got != want {
			t.Errorf("gatehouse_authn_failures_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

func mustCounter(t *testing.T, reg prometheus.Registerer) *prometheus.CounterVec {
	t.Helper()
	c := prometheus.NewCounterVec(authnFailuresOpts, []string{"reason"})
	err := reg.Register(c)
	are, ok := err.(prometheus.AlreadyRegisteredError)
	if !ok {
		t.Fatalf("authn failure counter not registered: %v", err)
	}
	return are.ExistingCollector.(*prometheus.CounterVec)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestAuthnMemoryRevocationSurvivesReload: a reload builds a new pipeline;
// a token logged out before it must stay revoked after it.
func TestAuthnMemoryRevocationSurvivesReload(t *testing.T) {
	up := upstreamEcho(t)
	cfg, signer := authnFixture(t, up.URL, "memory")
	tok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "carol", "jti": "reload-1",
		"exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
	p1, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gw1 := httptest.NewServer(p1)
	if got := do(t, gw1, "POST", "/logout", tok).StatusCode; got != 204 {
		t.Fatalf("logout = %d", got)
	}
	gw1.Close()
	_ = p1.Close()
	p2, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	gw2 := httptest.NewServer(p2)
	defer gw2.Close()
	if got := do(t, gw2, "GET", "/orders", tok).StatusCode; got != 401 {
		t.Fatalf("GET after reload = %d, want 401 (revocation kept)", got)
	}
}
