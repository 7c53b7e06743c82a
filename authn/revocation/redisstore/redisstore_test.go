package redisstore_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/authn/revocation/redisstore"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "gatehouse:test:" + hex.EncodeToString(b[:]) + ":"
}

func open(t *testing.T, pfx string, now func() time.Time) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(testutil.RedisURL(t), redisstore.Options{Prefix: pfx, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := open(t, prefix(), nil)
	now := time.Now()
	iat := now.Add(-time.Minute)
	if err := s.RevokeToken(ctx, "j1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSubject(ctx, "bob", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An earlier "before" must not shorten a later one.
	if err := s.RevokeSubject(ctx, "bob", now.Add(-time.Hour), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		jti, sub string
		iat      time.Time
		want     bool
	}{
		{"revoked jti", "j1", "alice", iat, true},
		{"other jti", "j2", "alice", iat, false},
		{"subject, issued before", "j3", "bob", iat, true},
		{"subject, issued after", "j3", "bob", now.Add(time.Second), false},
		{"subject, no iat", "", "bob", time.Time{}, true},
		{"empty", "", "", iat, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Check(ctx, tc.jti, tc.sub, tc.iat)
			if err != nil || got != tc.want {
				t.Fatalf("Check(%q, %q) = %v, %v; want %v", tc.jti, tc.sub, got, err, tc.want)
			}
		})
	}
	t.Run("ttl follows the token", func(t *testing.T) {
		if err := s.RevokeToken(ctx, "short", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Check(ctx, "short", "", iat); got {
			t.Fatal("an already-expired token got a revocation entry")
		}
	})
	t.Run("store down fails with an error", func(t *testing.T) {
		bad, _ := redisstore.Open("redis://127.0.0.1:1/0", redisstore.Options{Timeout: 100 * time.Millisecond})
		defer bad.Close()
		if _, err := bad.Check(ctx, "j1", "a", iat); err == nil {
			t.Fatal("Check against a dead Redis returned no error")
		}
	})
}

// TestTwoInstances runs two independent gateway front ends (each its own
// authenticator, cache and Redis connection, as two processes would have)
// sharing one real Redis. A logout through instance A must make the token
// fail on instance B within one second.
func TestTwoInstances(t *testing.T) {
	pfx := prefix()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := jwk.Import(priv)
	_ = signer.Set(jwk.KeyIDKey, "k1")
	pub, _ := signer.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	ks, _, err := jwt.NewKeySet(set)
	if err != nil {
		t.Fatal(err)
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + r.Header.Get("X-Gatehouse-Subject")))
	})
	instance := func() *httptest.Server {
		store := open(t, pfx, nil)
		is, _ := jwt.NewIssuer(jwt.IssuerOptions{Issuer: "gh", Algorithms: []string{"EdDSA"}, Keys: jwt.Static{Set: ks}})
		a, err := jwt.New(jwt.Options{Issuers: []*jwt.Issuer{is}, CacheSize: 100, Revocation: store})
		if err != nil {
			t.Fatal(err)
		}
		mw := authn.Middleware(authn.MiddlewareOptions{
			Authenticators: []authn.Authenticator{a},
			SubjectHeader:  "X-Gatehouse-Subject",
			IsLogout:       func(r *http.Request) bool { return r.URL.Path == "/logout" },
			OnLogout: func(ctx context.Context, p *authn.Principal) error {
				return store.RevokeToken(ctx, p.TokenID, p.ExpiresAt)
			},
		})
		srv := httptest.NewServer(mw(upstream))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := instance(), instance()
	tok, _ := jwt.Mint(map[string]any{"iss": "gh", "sub": "alice", "jti": pfx + "t1", "exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
	get := func(srv *httptest.Server, path string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Both accept the token (and cache it).
	for _, srv := range []*httptest.Server{a, b, a, b} {
		if got := get(srv, "/orders"); got != 200 {
			t.Fatalf("GET /orders = %d, want 200", got)
		}
	}
	start := time.Now()
	if got := get(a, "/logout"); got != 200 {
		t.Fatalf("logout via A = %d, want 200", got)
	}
	deadline := start.Add(time.Second)
	for {
		if get(b, "/orders") == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("token still accepted by instance B one second after logout via A")
		}
	}
	t.Logf("revocation visible on B after %v", time.Since(start))
	if got := get(a, "/orders"); got != http.StatusUnauthorized {
		t.Fatalf("GET via A after logout = %d, want 401", got)
	}
}

// BenchmarkCheck measures the per-request cost of a shared revocation check
// (one MGET round trip to a real Redis on loopback).
func BenchmarkCheck(b *testing.B) {
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		b.Skip("GATEHOUSE_TEST_REDIS not set: this benchmark needs a real Redis (export GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0)")
	}
	s, err := redisstore.Open(url, redisstore.Options{Prefix: prefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	iat := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if revoked, err := s.Check(ctx, "jti-1", "alice", iat); err != nil || revoked {
			b.Fatal(revoked, err)
		}
	}
}

// TestBinder: the first binding of a key stays across two store instances
// (two replicas), the same fingerprint extends it, and an unknown key has
// none.
func TestBinder(t *testing.T) {
	ctx := context.Background()
	pfx := prefix()
	a, b := open(t, pfx, nil), open(t, pfx, nil)
	until := time.Now().Add(time.Minute)
	if got, err := a.Bind(ctx, "k", "victim", until); err != nil || got != "victim" {
		t.Fatalf("Bind = %q, %v", got, err)
	}
	if got, err := b.Bind(ctx, "k", "attacker", until.Add(time.Hour)); err != nil || got != "victim" {
		t.Fatalf("Bind on the other instance = %q, %v; want victim kept", got, err)
	}
	if fp, ok, err := b.Binding(ctx, "k"); err != nil || !ok || fp != "victim" {
		t.Fatalf("Binding = %q, %v, %v", fp, ok, err)
	}
	if _, ok, err := a.Binding(ctx, "unknown"); err != nil || ok {
		t.Fatalf("Binding(unknown) = %v, %v", ok, err)
	}
}
