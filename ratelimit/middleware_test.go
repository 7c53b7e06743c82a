package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/ratelimit"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type counts struct {
	mu  sync.Mutex
	m   map[string]int
	err atomic.Int64
}

func (c *counts) Decision(limit, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[limit+"/"+outcome]++
}
func (c *counts) StoreError() { c.err.Add(1) }
func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// harness runs requests through the middleware with a route, principal and
// record in the context, as the gateway's outer stages would set them.
type harness struct {
	t      *testing.T
	mw     *ratelimit.Middleware
	clk    *clock
	obs    *counts
	hits   atomic.Int64
	status int // upstream status
}

func newHarness(t *testing.T, o ratelimit.Options) *harness {
	t.Helper()
	h := &harness{t: t, clk: &clock{t: t0}, obs: &counts{}, status: 200}
	if o.Now == nil {
		o.Now = h.clk.Now
	}
	if o.Observer == nil {
		o.Observer = h.obs
	}
	mw, err := ratelimit.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.mw = mw
	return h
}

type req struct {
	op     string
	ip     string
	sub    string
	body   string
	ctype  string
	mode   gatehouse.Mode
	header map[string]string
}

func (h *harness) do(q req) (*httptest.ResponseRecorder, *gatehouse.Record) {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(q.body))
	if q.ctype == "" {
		q.ctype = "application/json"
	}
	r.Header.Set("Content-Type", q.ctype)
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.ip == "" {
		q.ip = "192.0.2.1"
	}
	r.RemoteAddr = q.ip + ":40000"
	rec := &gatehouse.Record{RequestID: "req-1"}
	ctx := gatehouse.NewRecordContext(r.Context(), rec)
	if q.op == "" {
		q.op = "getThing"
	}
	ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: q.op, Method: "POST", Mode: q.mode})
	if q.sub != "" {
		ctx = authn.NewContext(ctx, &authn.Principal{Subject: q.sub, Method: "jwt"})
	}
	w := httptest.NewRecorder()
	h.mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		w.WriteHeader(h.status)
	})).ServeHTTP(w, r.WithContext(ctx))
	return w, rec
}

func lim(t *testing.T, name, rate string, burst int, key []string, ops ...string) ratelimit.Limit {
	t.Helper()
	k, err := ratelimit.ParseKey(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ratelimit.Limit{Policy: ratelimit.MustPolicy(name, rate, burst), Key: k, Operations: ops}
}

func TestMiddleware429AndHeaders(t *testing.T) {
	h := newHarness(t, ratelimit.Options{Limits: []ratelimit.Limit{lim(t, "per-ip", "2/min", 2, []string{"ip"})}})
	w, _ := h.do(req{})
	if w.Code != 200 {
		t.Fatalf("first: status %d", w.Code)
	}
	if got, want := w.Header().Get("RateLimit-Policy"), `"per-ip";q=2;w=60`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	if got, want := w.Header().Get("RateLimit"), `"per-ip";r=1;t=30`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	h.do(req{})
	w, rec := h.do(req{})
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("third: status %d, want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	if got, want := w.Header().Get("RateLimit"), `"per-ip";r=0;t=30`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["status"] != float64(429) || body["request_id"] != "req-1" {
		t.Errorf("body = %s (%v), want a generic 429 problem with the request id", w.Body, err)
	}
	if s := w.Body.String(); strings.Contains(s, "per-ip") || strings.Contains(s, "192.0.2.1") {
		t.Errorf("body leaks the limit or key: %s", s)
	}
	snap := rec.Snapshot()
	if snap.Stage != "ratelimit" || snap.Reason != "limit per-ip key ip" {
		t.Errorf("record = %q/%q, want ratelimit/limit per-ip key ip", snap.Stage, snap.Reason)
	}
	if h.hits.Load() != 2 {
		t.Errorf("upstream hits = %d, want 2", h.hits.Load())
	}
	if h.obs.get("per-ip/allowed") != 2 || h.obs.get("per-ip/limited") != 1 {
		t.Errorf("metrics = %v", h.obs.m)
	}
	// 30s later one more is allowed.
	h.clk.Add(30 * time.Second)
	if w, _ := h.do(req{}); w.Code != 200 {
		t.Errorf("after Retry-After: status %d", w.Code)
	}
}

func TestMiddlewareStrictestWins(t *testing.T) {
	h := newHarness(t, ratelimit.Options{Limits: []ratelimit.Limit{
		lim(t, "per-ip", "100/min", 100, []string{"ip"}),
		lim(t, "per-user", "3/min", 3, []string{"user"}),
		lim(t, "per-op", "50/s", 0, []string{"operation", "ip"}),
	}})
	for i := range 3 {
		w, _ := h.do(req{sub: "alice"})
		if w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		// The header describes the limit with the fewest remaining.
		if got := w.Header().Get("RateLimit-Policy"); got != `"per-user";q=3;w=60` {
			t.Fatalf("request %d: RateLimit-Policy = %q, want per-user", i, got)
		}
	}
	w, rec := h.do(req{sub: "alice"})
	if w.Code != 429 || rec.Snapshot().Reason != "limit per-user key user" {
		t.Fatalf("4th: %d %q, want 429 by per-user", w.Code, rec.Snapshot().Reason)
	}
	// bob from the same IP is not affected by alice's user limit, and the
	// refused requests did not use up the per-ip limit (97 left).
	w, _ = h.do(req{sub: "bob"})
	if w.Code != 200 {
		t.Fatalf("bob: %d", w.Code)
	}
	if h.obs.get("per-ip/allowed") != 4 {
		t.Fatalf("per-ip allowed = %d, want 4", h.obs.get("per-ip/allowed"))
	}
}

func TestMiddlewareOperationsScope(t *testing.T) {
	h := newHarness(t, ratelimit.Options{Limits: []ratelimit.Limit{lim(t, "login-ip", "1/min", 1, []string{"ip"}, "login")}})
	h.do(req{op: "login"})
	if w, _ := h.do(req{op: "login"}); w.Code != 429 {
		t.Fatalf("second login: %d, want 429", w.Code)
	}
	for range 5 {
		if w, _ := h.do(req{op: "getThing"}); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Fatalf("other operation: %d %q, want 200 without limit headers", w.Code, w.Header().Get("RateLimit"))
		}
	}
}

func TestMiddlewareMonitorMode(t *testing.T) {
	for _, tt := range []struct {
		name  string
		force *gatehouse.Mode
		route gatehouse.Mode
	}{
		{"route monitor", nil, gatehouse.Monitor},
		{"forced monitor", ptr(gatehouse.Monitor), gatehouse.Enforce},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ratelimit.Options{Mode: tt.force, Limits: []ratelimit.Limit{lim(t, "l", "1/min", 1, []string{"ip"})}})
			for range 5 {
				if w, _ := h.do(req{mode: tt.route}); w.Code != 200 {
					t.Fatalf("monitor mode returned %d", w.Code)
				}
			}
			_, rec := h.do(req{mode: tt.route})
			s := rec.Snapshot()
			if s.Stage != "" || len(s.Monitored) != 1 || s.Monitored[0] != "ratelimit: limit l key ip" {
				t.Fatalf("record stage %q monitored %q, want one monitored ratelimit entry", s.Stage, s.Monitored)
			}
			if got := h.obs.get("l/monitored"); got != 5 {
				t.Fatalf("monitored count = %d, want 5", got)
			}
		})
	}
	t.Run("forced enforce beats route monitor", func(t *testing.T) {
		h := newHarness(t, ratelimit.Options{Mode: ptr(gatehouse.Enforce), Limits: []ratelimit.Limit{lim(t, "l", "1/min", 1, []string{"ip"})}})
		h.do(req{mode: gatehouse.Monitor})
		if w, _ := h.do(req{mode: gatehouse.Monitor}); w.Code != 429 {
			t.Fatalf("status %d, want 429", w.Code)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// flakyStore fails while down is set; it counts calls.
type flakyStore struct {
	inner ratelimit.Store
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakyStore) Take(ctx context.Context, ops []ratelimit.Op, now time.Time, out []ratelimit.Decision) error {
	f.calls.Add(1)
	if f.down.Load() {
		return fmt.Errorf("%w: connection refused", ratelimit.ErrStoreUnavailable)
	}
	return f.inner.Take(ctx, ops, now, out)
}

func TestMiddlewareStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		mode      ratelimit.StoreErrorMode
		wantCodes []int // 4 requests while down, limit 2/min
	}{
		{ratelimit.OnErrorLocal, []int{200, 200, 429, 429}},
		{ratelimit.OnErrorAllow, []int{200, 200, 200, 200}},
		{ratelimit.OnErrorDeny, []int{503, 503, 503, 503}},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			fs := &flakyStore{inner: ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})}
			h := newHarness(t, ratelimit.Options{Store: fs, OnStoreError: tt.mode, Backoff: 5 * time.Second,
				Limits: []ratelimit.Limit{lim(t, "l", "2/min", 2, []string{"ip"})}})
			fs.down.Store(true)
			for i, want := range tt.wantCodes {
				w, _ := h.do(req{})
				if w.Code != want {
					t.Fatalf("request %d while down: %d, want %d", i, w.Code, want)
				}
				if want == 503 && w.Header().Get("Retry-After") != "5" {
					t.Fatalf("503 Retry-After = %q, want 5", w.Header().Get("Retry-After"))
				}
			}
			// Backoff: the store was tried until three calls in a row had
			// failed (BackoffAfter's default), not on every request.
			if n := fs.calls.Load(); n != 3 {
				t.Fatalf("store calls during backoff = %d, want 3", n)
			}
			if n := h.obs.err.Load(); n != 3 {
				t.Fatalf("store errors counted = %d, want 3", n)
			}
			// Recovery without restart: the store is back and the backoff over.
			fs.down.Store(false)
			h.clk.Add(5 * time.Second)
			w, _ := h.do(req{})
			if w.Code != 200 || fs.calls.Load() != 4 {
				t.Fatalf("after recovery: %d with %d store calls, want 200 from the store", w.Code, fs.calls.Load())
			}
		})
	}
}

func TestKeys(t *testing.T) {
	mk := func(remote string, hdr map[string]string, p *authn.Principal, op string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		ctx := r.Context()
		if p != nil {
			ctx = authn.NewContext(ctx, p)
		}
		if op != "" {
			ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: op})
		}
		return r.WithContext(ctx)
	}
	key := func(words ...string) ratelimit.Key {
		k, err := ratelimit.ParseKey(words, nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	alice := &authn.Principal{Subject: "alice", Method: "jwt", Claims: map[string]any{"org_id": "acme", "n": 7.0}}
	apik := &authn.Principal{Subject: "key-123", Method: "api_key"}
	tests := []struct {
		name  string
		k     ratelimit.Key
		a, b  *http.Request
		equal bool
	}{
		{"ip v4 differs", key("ip"), mk("192.0.2.1:1", nil, nil, ""), mk("192.0.2.2:1", nil, nil, ""), false},
		{"ip port ignored", key("ip"), mk("192.0.2.1:1", nil, nil, ""), mk("192.0.2.1:2", nil, nil, ""), true},
		{"ip v4-mapped v6 equals v4", key("ip"), mk("192.0.2.1:1", nil, nil, ""), mk("[::ffff:192.0.2.1]:1", nil, nil, ""), true},
		{"ip v6 same /64 shares", key("ip"), mk("[2001:db8::1]:1", nil, nil, ""), mk("[2001:db8::ffff:1234]:1", nil, nil, ""), true},
		{"ip v6 other /64", key("ip"), mk("[2001:db8::1]:1", nil, nil, ""), mk("[2001:db8:0:1::1]:1", nil, nil, ""), false},
		{"xff ignored by default", key("ip"), mk("192.0.2.1:1", map[string]string{"X-Forwarded-For": "203.0.113.9"}, nil, ""), mk("192.0.2.1:1", nil, nil, ""), true},
		{"user by subject", key("user"), mk("192.0.2.1:1", nil, alice, ""), mk("192.0.2.2:1", nil, alice, ""), true},
		{"anonymous user falls back to ip", key("user"), mk("192.0.2.1:1", nil, nil, ""), mk("192.0.2.2:1", nil, nil, ""), false},
		{"user named like an ip is not that ip", key("user"), mk("192.0.2.1:1", nil, &authn.Principal{Subject: "192.0.2.1"}, ""), mk("192.0.2.1:1", nil, nil, ""), false},
		{"api key by subject", key("api_key"), mk("192.0.2.1:1", nil, apik, ""), mk("192.0.2.9:1", nil, apik, ""), true},
		{"jwt user is not an api key", key("api_key"), mk("192.0.2.1:1", nil, alice, ""), mk("192.0.2.2:1", nil, alice, ""), false},
		{"operation shares across ips", key("operation"), mk("192.0.2.1:1", nil, nil, "login"), mk("192.0.2.2:1", nil, nil, "login"), true},
		{"operation+ip", key("operation", "ip"), mk("192.0.2.1:1", nil, nil, "login"), mk("192.0.2.2:1", nil, nil, "login"), false},
		{"header", key("header:x-tenant"), mk("192.0.2.1:1", map[string]string{"X-Tenant": "a"}, nil, ""), mk("192.0.2.2:1", map[string]string{"X-Tenant": "a"}, nil, ""), true},
		{"claim", key("claim:org_id"), mk("192.0.2.1:1", nil, alice, ""), mk("192.0.2.2:1", nil, &authn.Principal{Subject: "bob", Claims: map[string]any{"org_id": "acme"}}, ""), true},
		// Length-prefixed parts: ("ab","c") and ("a","bc") differ.
		{"combination is injective", key("header:a", "header:b"), mk("192.0.2.1:1", map[string]string{"A": "ab", "B": "c"}, nil, ""), mk("192.0.2.1:1", map[string]string{"A": "a", "B": "bc"}, nil, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := tt.k.String(tt.a), tt.k.String(tt.b)
			if (ka == kb) != tt.equal {
				t.Fatalf("keys %q and %q: equal = %v, want %v", ka, kb, ka == kb, tt.equal)
			}
		})
	}
	for _, bad := range [][]string{{"ipx"}, {"header:"}, {"claim"}, {}, {"cel:"}, {"cel:1.5"}, {"cel:request.nope"}} {
		if _, err := ratelimit.ParseKey(bad, nil); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

var _ = errors.New

// TestFallbackSharedAcrossMiddlewares: two Middlewares built with one
// Fallback (a config reload) share the state of an unchanged limit; a
// changed rate, key or operation list is a new definition and starts fresh.
func TestFallbackSharedAcrossMiddlewares(t *testing.T) {
	st := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{MaxKeys: 1000})
	build := func(rate string, key []string, ops ...string) *harness {
		o := ratelimit.Options{Fallback: st, Limits: []ratelimit.Limit{lim(t, "l", rate, 1, key, ops...)}}
		h := newHarness(t, o)
		return h
	}
	first := build("1/h", []string{"ip"})
	if w, _ := first.do(req{}); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	for _, tt := range []struct {
		name string
		h    *harness
		want int
	}{
		{"same definition", build("1/h", []string{"ip"}), 429},
		{"changed rate", build("2/h", []string{"ip"}), 200},
		{"changed key", build("1/h", []string{"ip", "operation"}), 200},
		{"changed operations", build("1/h", []string{"ip"}, "getThing"), 200},
	} {
		if w, _ := tt.h.do(req{}); w.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
		}
	}
}

// TestStoreBackoffAfterFailures: one failed store call (a Redis reply past
// its read timeout while the machine is saturated) opened the backoff, and
// with on_store_error deny every client got 503 for a second (bench/run's
// gh-redis errors). Now the failed request alone gets on_store_error until
// BackoffAfter calls in a row have failed; a success resets the count; after
// the backoff, one failure opens it again (half-open).
func TestStoreBackoffAfterFailures(t *testing.T) {
	fs := &flakyStore{inner: ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})}
	h := newHarness(t, ratelimit.Options{Store: fs, OnStoreError: ratelimit.OnErrorDeny, Backoff: 5 * time.Second,
		Limits: []ratelimit.Limit{lim(t, "l", "1000/min", 1000, []string{"ip"})}})
	step := func(down bool, want int, calls int64) {
		t.Helper()
		fs.down.Store(down)
		w, _ := h.do(req{})
		if w.Code != want || fs.calls.Load() != calls {
			t.Fatalf("store down=%v: %d after %d store calls, want %d after %d", down, w.Code, fs.calls.Load(), want, calls)
		}
	}
	// Two failures in a row, then a success: only the failed requests got 503.
	step(true, 503, 1)
	step(false, 200, 2)
	step(true, 503, 3)
	step(true, 503, 4)
	step(false, 200, 5) // reset: the next failures count from one again
	step(true, 503, 6)
	step(true, 503, 7)
	step(false, 200, 8)
	// Three in a row open the backoff: the store is left alone, deny answers.
	step(true, 503, 9)
	step(true, 503, 10)
	step(true, 503, 11)
	step(false, 503, 11)
	step(false, 503, 11)
	// Half-open: after the backoff one failure starts it again at once.
	h.clk.Add(5 * time.Second)
	step(true, 503, 12)
	step(false, 503, 12)
	// The next try succeeds and resets: one failure no longer opens it.
	h.clk.Add(5 * time.Second)
	step(false, 200, 13)
	step(true, 503, 14)
	step(false, 200, 15)

	// BackoffAfter: 1 keeps the old behaviour, for who wants it.
	fs1 := &flakyStore{inner: ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})}
	h1 := newHarness(t, ratelimit.Options{Store: fs1, OnStoreError: ratelimit.OnErrorDeny, Backoff: 5 * time.Second, BackoffAfter: 1,
		Limits: []ratelimit.Limit{lim(t, "l", "1000/min", 1000, []string{"ip"})}})
	fs1.down.Store(true)
	h1.do(req{})
	fs1.down.Store(false)
	if w, _ := h1.do(req{}); w.Code != 503 || fs1.calls.Load() != 1 {
		t.Fatalf("BackoffAfter 1: %d after %d store calls, want 503 from the backoff after 1", w.Code, fs1.calls.Load())
	}
}
