package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// jwksIdP is a real JWKS server on 127.0.0.1 that can hold its answers
// back, and be stopped and started again on the same address.
type jwksIdP struct {
	mu   sync.Mutex
	body []byte
	gate chan struct{} // nil: answer at once
	hits atomic.Int64
	addr string
	srv  *httptest.Server
}

func newJWKSIdP(t *testing.T, ks ...jwk.Key) *jwksIdP {
	d := &jwksIdP{}
	d.publish(t, ks...)
	d.srv = httptest.NewServer(d)
	d.addr = d.srv.Listener.Addr().String()
	t.Cleanup(func() { d.srv.Close() })
	return d
}

func (d *jwksIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.hits.Add(1)
	d.mu.Lock()
	g, body := d.gate, d.body
	d.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (d *jwksIdP) publish(t *testing.T, ks ...jwk.Key) {
	set := jwk.NewSet()
	for _, k := range ks {
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		_ = set.AddKey(pub)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.body = b
	d.mu.Unlock()
}

func (d *jwksIdP) hold() (release func()) {
	g := make(chan struct{})
	d.mu.Lock()
	d.gate = g
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			d.gate = nil
			d.mu.Unlock()
			close(g)
		})
	}
}

func (d *jwksIdP) stop() { d.srv.Close() }

func (d *jwksIdP) start(t *testing.T) {
	l, err := net.Listen("tcp", d.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", d.addr, err)
	}
	d.srv = httptest.NewUnstartedServer(d)
	d.srv.Listener.Close()
	d.srv.Listener = l
	d.srv.Start()
}

func rsaJWK(t *testing.T, kid string) jwk.Key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	return k
}

type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *testClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func jwksGateway(t *testing.T, d *jwksIdP, clk *testClock) *authnServer {
	up := upstreamEcho(t)
	return startAuthnServer(t, `listen: "127.0.0.1:0"
admin: "127.0.0.1:1"
upstream: "`+up.URL+`"
spec: openapi.yaml
authn:
  jwt:
    - issuer: idp-test
      jwks_url: "`+d.srv.URL+`/jwks"
      audiences: [orders-api]
      algorithms: [RS256]
      jwks_max_stale: 2h
`, authnTestSpec, func(o *ServerOptions) { o.Now = clk.Now })
}

func rsaToken(t *testing.T, k jwk.Key, clk *testClock) string {
	t.Helper()
	now := clk.Now().Unix()
	s, err := jwt.Mint(map[string]any{"iss": "idp-test", "aud": "orders-api", "sub": "alice", "iat": now, "exp": now + 6*3600}, "RS256", k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthnJWKSRefetchSurvivesClientDisconnect: a client presents a token
// signed with a key the IdP has just published, and disconnects while the
// gateway's refetch is still waiting for the IdP. The refetch must finish
// anyway (it ran on the client's context before: cancelled, and the
// cooldown then kept the new key out), so the next client is let in without
// another fetch.
func TestAuthnJWKSRefetchSurvivesClientDisconnect(t *testing.T) {
	k1, k2 := rsaJWK(t, "k1"), rsaJWK(t, "k2")
	d := newJWKSIdP(t, k1)
	clk := newTestClock()
	as := jwksGateway(t, d, clk)
	if code, _ := as.get(t, "/orders", rsaToken(t, k1, clk)); code != 200 {
		t.Fatalf("GET with k1 = %d, want 200", code)
	}
	d.publish(t, k1, k2)
	clk.Add(11 * time.Second) // past the unknown-kid cooldown of the startup fetch
	base := d.hits.Load()
	release := d.hold()
	defer release()
	tok := rsaToken(t, k2, clk)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", as.base+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		res <- err
	}()
	authnWaitFor(t, "the refetch to reach the IdP", func() bool { return d.hits.Load() == base+1 })
	cancel()
	if err := <-res; err == nil {
		t.Fatal("the cancelled request completed")
	}
	release()
	authnWaitFor(t, "the new key to verify", func() bool {
		code, _ := as.get(t, "/orders", tok)
		return code == 200
	})
	if got := d.hits.Load() - base; got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}
}

// TestAuthnJWKSMaxStale stops the IdP: the last good keys serve (readyz
// degraded) until jwks_max_stale after the last good fetch, then every
// token gets 401 and readyz is not ready; when the IdP is back, the next
// request refetches and both recover.
func TestAuthnJWKSMaxStale(t *testing.T) {
	k1 := rsaJWK(t, "k1")
	d := newJWKSIdP(t, k1)
	clk := newTestClock()
	as := jwksGateway(t, d, clk)
	tok := rsaToken(t, k1, clk)
	ready := func(wantCode int, wantJWKS, wantRefresh string) {
		t.Helper()
		code, body := as.readyz(t)
		checks, _ := body["checks"].(map[string]any)
		if code != wantCode || checks["authn_jwks"] != wantJWKS || checks["authn_jwks_refresh"] != wantRefresh {
			t.Fatalf("/readyz = %d %v; want %d, authn_jwks %s, authn_jwks_refresh %s", code, body, wantCode, wantJWKS, wantRefresh)
		}
	}
	if code, _ := as.get(t, "/orders", tok); code != 200 {
		t.Fatalf("GET = %d, want 200", code)
	}
	ready(200, "ok", "ok")

	d.stop()
	clk.Add(30 * time.Minute)
	// An unknown kid makes the gateway refetch: it fails against the
	// stopped IdP.
	if code, _ := as.get(t, "/orders", rsaToken(t, rsaJWK(t, "k9"), clk)); code != 401 {
		t.Fatalf("GET with an unknown kid = %d, want 401", code)
	}
	ready(200, "ok", "degraded")
	if code, _ := as.get(t, "/orders", rsaToken(t, k1, clk)); code != 200 {
		t.Fatalf("GET 30m into the outage = %d, want 200 (last good keys)", code)
	}

	clk.Add(91 * time.Minute) // 2h01m after the last good fetch
	for _, tk := range []string{tok, rsaToken(t, k1, clk)} {
		if code, sub := as.get(t, "/orders", tk); code != 401 || sub != "" {
			t.Fatalf("GET past jwks_max_stale = %d (upstream saw %q), want 401", code, sub)
		}
	}
	ready(503, "unreachable", "degraded")

	d.start(t)
	clk.Add(11 * time.Second) // past the cooldown of the last failed try
	if code, _ := as.get(t, "/orders", tok); code != 200 {
		t.Fatalf("GET after the IdP is back = %d, want 200", code)
	}
	ready(200, "ok", "ok")
}

// authnWaitFor polls cond until it holds (the state of real servers and
// goroutines, not the timing of the behaviour under test).
func authnWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
