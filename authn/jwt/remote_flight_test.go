package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
)

// gatedIDP is a real JWKS server whose responses can be held back, to
// catch a fetch in flight.
type gatedIDP struct {
	srv  *httptest.Server
	jwks atomic.Pointer[[]byte]
	gate atomic.Pointer[chan struct{}] // nil: answer at once
	hits atomic.Int64
}

func newGatedIDP(t *testing.T, ks ...jwk.Key) *gatedIDP {
	t.Helper()
	d := &gatedIDP{}
	d.set(t, ks...)
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if g := d.gate.Load(); g != nil {
			select {
			case <-*g:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*d.jwks.Load())
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *gatedIDP) set(t *testing.T, ks ...jwk.Key) {
	b := publicJWKS(t, ks...)
	d.jwks.Store(&b)
}

// hold makes the next responses wait until the returned func is called.
func (d *gatedIDP) hold() (release func()) {
	g := make(chan struct{})
	d.gate.Store(&g)
	var once sync.Once
	return func() { once.Do(func() { d.gate.Store(nil); close(g) }) }
}

// waitFor polls cond (the state of real servers and goroutines, not the
// timing of the behaviour under test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func gatedEnv(t *testing.T) (*gatedIDP, *Remote, *Authenticator, *clock) {
	t.Helper()
	k := keys(t)
	d := newGatedIDP(t, k.rsa)
	clk := newClock()
	r, err := NewRemote(RemoteOptions{URL: d.srv.URL + "/jwks", Now: clk.Now, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(IssuerOptions{Issuer: testIssuer, Audiences: []string{testAud}, Algorithms: []string{"RS256"}, Keys: r})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Issuers: []*Issuer{is}, Now: clk.Now, CacheSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	return d, r, a, clk
}

func rotatedToken(t *testing.T, clk *clock) string {
	now := clk.Now().Unix()
	return mint(t, "RS256", keys(t).rsa2, map[string]any{"iss": testIssuer, "aud": testAud, "sub": "alice", "exp": now + 300})
}

// TestUnknownKIDRefetchSurvivesDisconnect: the client whose unknown kid
// triggered the refetch goes away mid-fetch. The fetch must complete (on a
// background context) and the rotated key must be usable afterwards with
// no second fetch; before the fix the client's context cancelled the fetch
// and the cooldown then kept the new key out for its whole length.
func TestUnknownKIDRefetchSurvivesDisconnect(t *testing.T) {
	d, _, a, clk := gatedEnv(t)
	k := keys(t)
	d.set(t, k.rsa, k.rsa2) // the IdP rotates rsa2 in
	clk.Add(11 * time.Second)
	base := d.hits.Load()
	release := d.hold()
	defer release()
	tok := rotatedToken(t, clk)

	ctx, cancel := context.WithCancel(context.Background())
	req := bearer(tok).WithContext(ctx)
	res := make(chan error, 1)
	go func() { _, err := a.Authenticate(req); res <- err }()
	waitFor(t, "the refetch to reach the IdP", func() bool { return d.hits.Load() == base+1 })
	cancel() // the client disconnects while the IdP is still answering
	if err := <-res; authn.Reason(err) != authn.ReasonUnknownKID {
		t.Fatalf("disconnected request: %v, want unknown_kid", err)
	}
	release()
	// The fetch finishes in the background; within the cooldown no new one
	// starts, so the token verifies only if the first fetch was not lost.
	waitFor(t, "the rotated key", func() bool {
		_, err := a.Authenticate(bearer(tok))
		return err == nil
	})
	if got := d.hits.Load() - base; got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}
}

// TestUnknownKIDSingleFlight: many requests with the new kid at once cost
// one fetch, and every one of them waits for it and succeeds.
func TestUnknownKIDSingleFlight(t *testing.T) {
	d, _, a, clk := gatedEnv(t)
	k := keys(t)
	d.set(t, k.rsa, k.rsa2)
	clk.Add(11 * time.Second)
	base := d.hits.Load()
	release := d.hold()
	defer release()
	tok := rotatedToken(t, clk)
	const n = 32
	errs := make(chan error, n)
	for range n {
		go func() { _, err := a.Authenticate(bearer(tok)); errs <- err }()
	}
	waitFor(t, "the refetch to reach the IdP", func() bool { return d.hits.Load() == base+1 })
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent request: %v", err)
		}
	}
	if got := d.hits.Load() - base; got != 1 {
		t.Fatalf("%d concurrent unknown-kid requests caused %d fetches, want 1", n, got)
	}
}

// TestCloseStopsAFlight: Close cancels a refetch stuck on a slow IdP and
// waits for it.
func TestCloseStopsAFlight(t *testing.T) {
	d, r, a, clk := gatedEnv(t)
	clk.Add(11 * time.Second)
	base := d.hits.Load()
	release := d.hold()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = a.Authenticate(bearer(rotatedToken(t, clk)).WithContext(ctx)) }()
	waitFor(t, "the refetch to reach the IdP", func() bool { return d.hits.Load() == base+1 })
	cancel()
	done := make(chan struct{})
	go func() { _ = r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the background refetch")
	}
}

// TestDiscoveredJWKSURLChecked: the jwks_uri of a discovery document gets
// the checks a configured URL gets, and a plain-http jwks_uri under an
// https issuer (a downgrade) is refused; nothing is fetched from a refused
// URL.
func TestDiscoveredJWKSURLChecked(t *testing.T) {
	k := keys(t)
	var jwksURI atomic.Pointer[string]
	var jwksHits atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": *jwksURI.Load()})
		case "/jwks":
			jwksHits.Add(1)
			_, _ = w.Write(publicJWKS(t, k.rsa))
		}
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, uri string
	}{
		{"plain http downgrade", "http://" + host + "/jwks"},
		{"file scheme", "file:///etc/passwd"},
		{"relative path", "/jwks"},
		{"scheme-relative", "//" + host + "/jwks"},
		{"no host", "https:///jwks"},
		{"opaque", "https:" + host + "/jwks"},
		{"credentials", "https://user:pw@" + host + "/jwks"},
		{"fragment", "https://" + host + "/jwks#x"},
		{"gopher", "gopher://" + host + "/jwks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := tc.uri
			jwksURI.Store(&uri)
			r, err := NewRemote(RemoteOptions{DiscoveryIssuer: srv.URL, Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			before := jwksHits.Load()
			if err := r.Refresh(context.Background()); !errors.Is(err, ErrBadJWKSURL) {
				t.Fatalf("Refresh with jwks_uri %q = %v, want ErrBadJWKSURL", uri, err)
			}
			if jwksHits.Load() != before {
				t.Fatal("a refused jwks_uri was fetched")
			}
		})
	}
	t.Run("https on the same server is used", func(t *testing.T) {
		uri := srv.URL + "/jwks"
		jwksURI.Store(&uri)
		r, _ := NewRemote(RemoteOptions{DiscoveryIssuer: srv.URL, Client: srv.Client()})
		if err := r.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if ks, _ := r.Keys(context.Background()); ks.Len() != 1 {
			t.Fatalf("keys = %d, want 1", ks.Len())
		}
	})
	t.Run("configured URLs get the same check", func(t *testing.T) {
		for _, u := range []string{"file:///etc/passwd", "/jwks", "https://u:p@" + host + "/jwks", "https:///x"} {
			if _, err := NewRemote(RemoteOptions{URL: u}); !errors.Is(err, ErrBadJWKSURL) {
				t.Errorf("NewRemote(URL %q) = %v, want ErrBadJWKSURL", u, err)
			}
		}
	})
}

// restartableIDP is a real JWKS server that can be stopped and started
// again on the same address.
type restartableIDP struct {
	addr string
	body []byte
	srv  *httptest.Server
}

func newRestartableIDP(t *testing.T, ks ...jwk.Key) *restartableIDP {
	d := &restartableIDP{body: publicJWKS(t, ks...)}
	d.srv = httptest.NewServer(d.handler())
	d.addr = d.srv.Listener.Addr().String()
	t.Cleanup(func() { d.srv.Close() })
	return d
}

func (d *restartableIDP) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.body)
	})
}

func (d *restartableIDP) stop() { d.srv.Close() }

func (d *restartableIDP) start(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", d.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", d.addr, err)
	}
	d.srv = httptest.NewUnstartedServer(d.handler())
	d.srv.Listener.Close()
	d.srv.Listener = l
	d.srv.Start()
}

// TestJWKSMaxStale: with the IdP stopped, the last good keys serve until
// MaxStale after the last good fetch, then every token fails closed
// (keys_unavailable), cached ones included; when the IdP is back, the next
// request refetches and tokens verify again.
func TestJWKSMaxStale(t *testing.T) {
	k := keys(t)
	d := newRestartableIDP(t, k.rsa)
	clk := newClock()
	r, err := NewRemote(RemoteOptions{URL: d.srv.URL + "/jwks", Now: clk.Now, MaxStale: time.Hour, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	is, _ := NewIssuer(IssuerOptions{Issuer: testIssuer, Audiences: []string{testAud}, Algorithms: []string{"RS256"}, Keys: r})
	a, _ := New(Options{Issuers: []*Issuer{is}, Now: clk.Now, CacheSize: 10})
	tok := func() string {
		now := clk.Now().Unix()
		return mint(t, "RS256", k.rsa, map[string]any{"iss": testIssuer, "aud": testAud, "sub": "alice", "exp": now + 7200})
	}
	cached := tok()
	check(t, a, bearer(cached), "")
	if r.Ready() != nil || r.Degraded() {
		t.Fatalf("fresh: Ready %v Degraded %v", r.Ready(), r.Degraded())
	}

	d.stop()
	clk.Add(30 * time.Minute)
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a stopped IdP succeeded")
	}
	if r.Ready() != nil || !r.Degraded() {
		t.Fatalf("30m into the outage: Ready %v Degraded %v; want ready, degraded", r.Ready(), r.Degraded())
	}
	check(t, a, bearer(tok()), "")
	check(t, a, bearer(cached), "")

	clk.Add(31 * time.Minute) // 61m after the last good fetch
	if err := r.Ready(); !errors.Is(err, ErrKeysStale) {
		t.Fatalf("Ready past MaxStale = %v, want ErrKeysStale", err)
	}
	check(t, a, bearer(tok()), authn.ReasonKeysUnavailable)
	check(t, a, bearer(cached), authn.ReasonKeysUnavailable)

	d.start(t)
	clk.Add(11 * time.Second) // past the refetch cooldown of the last try
	check(t, a, bearer(tok()), "")
	check(t, a, bearer(cached), "")
	if r.Ready() != nil || r.Degraded() {
		t.Fatalf("after recovery: Ready %v Degraded %v", r.Ready(), r.Degraded())
	}
}
