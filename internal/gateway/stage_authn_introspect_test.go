package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// TestAuthnIntrospectionThroughGateway runs the gateway with a JWT issuer
// and an RFC 7662 introspection endpoint (a real HTTP server on loopback
// that authenticates the gateway) side by side: opaque tokens are
// introspected, JWTs never leave the gateway, answers are cached until
// cache_ttl or exp, a logout revokes an opaque token, and with the endpoint
// down only cached tokens pass, until their entry expires.
func TestAuthnIntrospectionThroughGateway(t *testing.T) {
	t.Setenv("GH_TEST_INTROSPECT_SECRET", "introspection-secret")
	clk := newTestClock()
	var (
		mu     sync.Mutex
		active = map[string]bool{}
		hits   atomic.Int64
	)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if id, secret, ok := r.BasicAuth(); !ok || id != "gatehouse" || secret != "introspection-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tok := r.PostFormValue("token")
		mu.Lock()
		on := active[tok]
		mu.Unlock()
		if !on {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "opaque-" + tok, "aud": "orders-api",
			"exp": clk.Now().Add(time.Hour).Unix()})
	}))
	defer idp.Close()
	setActive := func(tok string, on bool) { mu.Lock(); active[tok] = on; mu.Unlock() }

	up := upstreamEcho(t)
	cfg, signer := authnFixture(t, up.URL, "memory")
	as := startAuthnServer(t, fmt.Sprintf(`listen: "127.0.0.1:0"
admin: "127.0.0.1:1"
upstream: %q
spec: openapi.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [%q]
      audiences: [orders-api]
      algorithms: [EdDSA]
  introspection:
    endpoint: %q
    client_id: gatehouse
    client_secret: "${GH_TEST_INTROSPECT_SECRET}"
    audiences: [orders-api]
    cache_ttl: 2m
  logout_operation: logout
`, up.URL, cfg.Authn.JWT[0].Keys[0], idp.URL+"/introspect"), authnTestSpec, func(o *ServerOptions) { o.Now = clk.Now })

	setActive("tok-a", true)
	setActive("tok-b", true)
	setActive("tok-c", true)
	expect := func(tok string, want int, wantSub string) {
		t.Helper()
		code, sub := as.get(t, "/orders", tok)
		if code != want || sub != wantSub {
			t.Fatalf("GET with %q = %d subject %q, want %d %q", tok, code, sub, want, wantSub)
		}
	}
	expect("tok-a", 200, "opaque-tok-a")
	h := hits.Load()
	expect("tok-a", 200, "opaque-tok-a")
	if hits.Load() != h {
		t.Fatal("a cached opaque token was introspected again")
	}
	now := clk.Now().Unix()
	jwtTok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "jwt-user", "exp": now + 600}, "EdDSA", signer)
	expect(jwtTok, 200, "jwt-user")
	forged := jwtTok[:len(jwtTok)-4] + "AAAA"
	expect(forged, 401, "")
	if hits.Load() != h {
		t.Fatal("a JWT was sent to the introspection endpoint")
	}
	expect("unknown-token", 401, "")

	// Logout revokes the opaque token although the IdP still says active.
	if code, _ := as.post(t, "/logout", "tok-b"); code != 204 {
		t.Fatalf("logout = %d, want 204", code)
	}
	expect("tok-b", 401, "")

	// The IdP deactivates tok-a: hidden by the cache for at most cache_ttl.
	setActive("tok-a", false)
	clk.Add(time.Minute)
	expect("tok-a", 200, "opaque-tok-a")
	clk.Add(61 * time.Second)
	expect("tok-a", 401, "")

	// The IdP goes down: the cached token passes until its entry expires,
	// an uncached one fails closed.
	expect("tok-c", 200, "opaque-tok-c")
	idp.Close()
	expect("tok-c", 200, "opaque-tok-c")
	setActive("tok-d", true)
	expect("tok-d", 401, "")
	clk.Add(2*time.Minute + time.Second)
	expect("tok-c", 401, "")
}
