package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// A GCRA limiter with an injected clock: 5 per minute, burst 5.
func ExampleGCRA() {
	l := ratelimit.NewGCRA(ratelimit.MustPolicy("login-ip", "5/min", 5), nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		d, _ := l.Allow(context.Background(), "192.0.2.1", now)
		fmt.Println(i+1, d.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// 1 true 4 0s
	// 2 true 3 0s
	// 3 true 2 0s
	// 4 true 1 0s
	// 5 true 0 0s
	// 6 false 0 12s
}

// The middleware in front of a handler: the third request within a minute
// gets 429 with Retry-After and the IETF RateLimit fields.
func ExampleMiddleware() {
	key, _ := ratelimit.ParseKey([]string{"ip"}, nil)
	mw, err := ratelimit.New(ratelimit.Options{
		Limits: []ratelimit.Limit{{Policy: ratelimit.MustPolicy("per-ip", "2/min", 2), Key: key}},
		Now:    func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		fmt.Println(w.Code, w.Header().Get("RateLimit"), "retry-after:"+w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "per-ip";r=1;t=30 retry-after:
	// 200 "per-ip";r=0;t=60 retry-after:
	// 429 "per-ip";r=0;t=30 retry-after:30
}

// A cel: key: one bucket per tenant claim, anonymous callers by address.
// The expression is compiled and type-checked once, in ParseKey.
func ExampleKeyCEL() {
	key, err := ratelimit.ParseKey([]string{`cel:principal.claims.?tenant.orValue("anon:" + request.ip)`}, nil)
	if err != nil {
		panic(err)
	}
	mw, err := ratelimit.New(ratelimit.Options{
		Limits: []ratelimit.Limit{{Policy: ratelimit.MustPolicy("per-tenant", "1/min", 1), Key: key}},
		Now:    func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tenant := range []string{"acme", "acme", "globex", ""} {
		r := httptest.NewRequest("GET", "/", nil)
		if tenant != "" {
			r = r.WithContext(authn.NewContext(r.Context(), &authn.Principal{Subject: "u", Claims: map[string]any{"tenant": tenant}}))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%q %d\n", tenant, w.Code)
	}
	// A type error is found when the config loads.
	_, err = ratelimit.ParseKey([]string{"cel:principal.roles"}, nil)
	fmt.Println(err)
	// Output:
	// "acme" 200
	// "acme" 429
	// "globex" 200
	// "" 200
	// ratelimit: cel key: result type is list(string), want string, int, uint or bool
}
