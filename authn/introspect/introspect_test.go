package introspect_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/introspect"
)

// idp is a real RFC 7662 endpoint on 127.0.0.1: it authenticates its client
// (Basic, form-encoded credentials), and answers from a table of tokens.
type idp struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens map[string]map[string]any
	raw    map[string]string // token -> verbatim answer
	hits   atomic.Int64
	seen   atomic.Pointer[string] // last token received
}

const (
	clientID     = "gate house"
	clientSecret = "s3cr:et&=+"
)

func newIDP(t testing.TB) *idp {
	d := &idp{tokens: map[string]map[string]any{}, raw: map[string]string{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		id, secret, ok := r.BasicAuth()
		// RFC 6749 2.3.1: the client sends both form-urlencoded.
		if !ok || id != "gate+house" || secret != "s3cr%3Aet%26%3D%2B" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token_type_hint") != "access_token" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		tok := r.PostForm.Get("token")
		d.seen.Store(&tok)
		d.mu.Lock()
		ans, ok := d.tokens[tok]
		raw, isRaw := d.raw[tok]
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case isRaw:
			_, _ = w.Write([]byte(raw))
		case ok:
			_ = json.NewEncoder(w).Encode(ans)
		default:
			_, _ = w.Write([]byte(`{"active":false}`))
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *idp) set(tok string, ans map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ans == nil {
		delete(d.tokens, tok)
		return
	}
	d.tokens[tok] = ans
}

func (d *idp) setRaw(tok, raw string) {
	d.mu.Lock()
	d.raw[tok] = raw
	d.mu.Unlock()
}

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func setup(t testing.TB, mod ...func(*introspect.Options)) (*idp, *introspect.Authenticator, *clock) {
	d := newIDP(t)
	clk := &clock{}
	clk.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	o := introspect.Options{Endpoint: d.srv.URL + "/introspect", ClientID: clientID, ClientSecret: []byte(clientSecret),
		Issuer: "idp", Audiences: []string{"orders-api"}, MaxTTL: 5 * time.Minute, Now: clk.Now, Timeout: 2 * time.Second}
	for _, f := range mod {
		f(&o)
	}
	a, err := introspect.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d, a, clk
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func expect(t *testing.T, a *introspect.Authenticator, tok, reason string) *authn.Principal {
	t.Helper()
	p, err := a.Authenticate(bearer(tok))
	if reason == "" {
		if err != nil {
			t.Fatalf("Authenticate(%q) = %v, want success", tok, err)
		}
		return p
	}
	if err == nil || !errors.Is(err, authn.ErrInvalidCredentials) || authn.Reason(err) != reason {
		t.Fatalf("Authenticate(%q) = %v (reason %q), want reason %q", tok, err, authn.Reason(err), reason)
	}
	return nil
}

func active(clk *clock, exp time.Duration, extra ...any) map[string]any {
	m := map[string]any{"active": true, "sub": "alice", "aud": "orders-api", "exp": clk.Now().Add(exp).Unix(),
		"scope": "orders:read orders:write", "roles": []string{"admin"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(m, extra[i].(string))
		} else {
			m[extra[i].(string)] = extra[i+1]
		}
	}
	return m
}

func TestIntrospectAnswers(t *testing.T) {
	d, a, clk := setup(t)
	d.set("good", active(clk, time.Hour))
	p := expect(t, a, "good", "")
	if p.Subject != "alice" || p.Method != "introspection" || p.Issuer != "idp" || !p.HasRole("admin") || !p.HasScope("orders:write") {
		t.Fatalf("principal %+v", p)
	}
	if got := *d.seen.Load(); got != "good" {
		t.Fatalf("endpoint received token %q", got)
	}
	for _, tc := range []struct {
		name, raw, reason string
		ans               map[string]any
	}{
		{name: "unknown token", reason: introspect.ReasonInactive},
		{name: "active false", ans: active(clk, time.Hour, "active", false), reason: introspect.ReasonInactive},
		{name: "active as a string", ans: active(clk, time.Hour, "active", "true"), reason: introspect.ReasonInactive},
		{name: "active as 1", ans: active(clk, time.Hour, "active", 1), reason: introspect.ReasonInactive},
		{name: "active missing", ans: active(clk, time.Hour, "active", nil), reason: introspect.ReasonInactive},
		{name: "active but expired", ans: active(clk, -time.Minute), reason: authn.ReasonExpired},
		{name: "exp a string", ans: active(clk, time.Hour, "exp", "tomorrow"), reason: introspect.ReasonIntrospectionError},
		{name: "another audience", ans: active(clk, time.Hour, "aud", "billing-api"), reason: authn.ReasonWrongAudience},
		{name: "no audience", ans: active(clk, time.Hour, "aud", nil), reason: authn.ReasonWrongAudience},
		{name: "no subject", ans: active(clk, time.Hour, "sub", nil), reason: authn.ReasonMissingSubject},
		{name: "subject array", ans: active(clk, time.Hour, "sub", []string{"alice"}), reason: authn.ReasonInvalidSubject},
		{name: "subject float", raw: `{"active":true,"aud":"orders-api","sub":4.2}`, reason: authn.ReasonInvalidSubject},
		{name: "duplicate active, last false", raw: `{"active":true,"active":false,"sub":"a","aud":"orders-api"}`, reason: introspect.ReasonInactive},
		{name: "not json", raw: `<html>ok</html>`, reason: introspect.ReasonIntrospectionError},
		{name: "json array", raw: `[{"active":true}]`, reason: introspect.ReasonIntrospectionError},
		{name: "trailing object", raw: `{"active":false}{"active":true,"sub":"a","aud":"orders-api"}`, reason: introspect.ReasonIntrospectionError},
		{name: "huge answer", raw: `{"active":true,"sub":"a","aud":"orders-api","pad":"` + strings.Repeat("x", 70<<10) + `"}`, reason: introspect.ReasonIntrospectionError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := "tok-" + strings.ReplaceAll(tc.name, " ", "-")
			if tc.raw != "" {
				d.setRaw(tok, tc.raw)
			} else if tc.ans != nil {
				d.set(tok, tc.ans)
			}
			expect(t, a, tok, tc.reason)
		})
	}
	t.Run("numeric subject", func(t *testing.T) {
		d.set("num", active(clk, time.Hour, "sub", 12345678901234567))
		if p := expect(t, a, "num", ""); p.Subject != "12345678901234567" {
			t.Fatalf("Subject = %q", p.Subject)
		}
	})
	t.Run("two bearer tokens", func(t *testing.T) {
		r := bearer("good")
		r.Header.Add("Authorization", "Bearer other")
		if _, err := a.Authenticate(r); authn.Reason(err) != authn.ReasonMultipleTokens {
			t.Fatalf("Authenticate = %v, want multiple_tokens", err)
		}
	})
}

func TestIntrospectClientAuthAndEndpoint(t *testing.T) {
	d, a, clk := setup(t, func(o *introspect.Options) { o.ClientSecret = []byte("wrong") })
	d.set("good", active(clk, time.Hour))
	expect(t, a, "good", introspect.ReasonIntrospectionError)
	for _, ep := range []string{"http://idp.example.com/introspect", "ftp://127.0.0.1/x", "https://u:p@idp.example.com/i", "/introspect"} {
		if _, err := introspect.New(introspect.Options{Endpoint: ep, ClientID: "a", ClientSecret: []byte("b")}); !errors.Is(err, introspect.ErrBadEndpoint) {
			t.Errorf("New(%q) = %v, want ErrBadEndpoint", ep, err)
		}
	}
	if _, err := introspect.New(introspect.Options{Endpoint: d.srv.URL, ClientID: "a"}); err == nil {
		t.Error("New without a client secret succeeded")
	}
}

func TestIntrospectJWSLeftToJWT(t *testing.T) {
	d, a, _ := setup(t, func(o *introspect.Options) { o.SkipJWS = true })
	if _, err := a.Authenticate(bearer("aaa.bbb.ccc")); !errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("Authenticate(JWS-shaped) = %v, want ErrNoCredentials", err)
	}
	if d.hits.Load() != 0 {
		t.Fatal("a JWS-shaped token was sent to the introspection endpoint")
	}
}

// TestIntrospectCache: answers are cached by token digest for at most
// MaxTTL and never past exp; with the endpoint down, cached tokens work
// until their entry expires and every other token fails closed.
func TestIntrospectCache(t *testing.T) {
	d, a, clk := setup(t)
	d.set("long", active(clk, time.Hour))
	d.set("short", active(clk, time.Minute))
	d.set("other", active(clk, time.Hour))
	expect(t, a, "long", "")
	expect(t, a, "short", "")
	hits := d.hits.Load()
	expect(t, a, "long", "")
	expect(t, a, "short", "")
	if d.hits.Load() != hits {
		t.Fatalf("cached tokens caused %d calls", d.hits.Load()-hits)
	}
	if got := a.CacheLen(); got != 2 {
		t.Fatalf("CacheLen = %d, want 2", got)
	}
	// The server revokes "long": the cache hides that for at most MaxTTL.
	// "short" stays active at the server (a lax one), but its entry dies at
	// exp: re-asked, the answer's exp is past.
	d.set("long", nil)
	clk.Add(61 * time.Second)
	expect(t, a, "short", authn.ReasonExpired)
	expect(t, a, "long", "") // 61s < MaxTTL: cached
	// The endpoint goes down.
	d.srv.Close()
	expect(t, a, "long", "")                                   // still cached
	expect(t, a, "other", introspect.ReasonIntrospectionError) // never cached: fail closed
	clk.Add(4 * time.Minute)                                   // 5m01s after the answer
	expect(t, a, "long", introspect.ReasonIntrospectionError)  // past the cache: fail closed
}

func TestIntrospectCacheBounded(t *testing.T) {
	d, a, clk := setup(t, func(o *introspect.Options) { o.CacheSize = 3 })
	for _, tok := range []string{"a", "b", "c", "d", "e"} {
		d.set(tok, active(clk, time.Hour))
		expect(t, a, tok, "")
	}
	if got := a.CacheLen(); got != 3 {
		t.Fatalf("CacheLen = %d, want 3", got)
	}
}
