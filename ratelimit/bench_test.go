package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
)

// BenchmarkMemoryStoreParallel: decisions under parallel load, keys spread
// over a small hot set and over 1M keys.
func BenchmarkMemoryStoreParallel(b *testing.B) {
	for _, nkeys := range []int{1, 1000, 1_000_000} {
		b.Run(strconv.Itoa(nkeys)+"keys", func(b *testing.B) {
			st := NewMemoryStore(MemoryOptions{})
			p := MustPolicy("bench", "1000000/s", 1000000)
			keys := make([]string, min(nkeys, 1<<16))
			for i := range keys {
				keys[i] = "key-" + strconv.Itoa(i*(nkeys/len(keys)))
			}
			var seq atomic.Int64
			now := time.Now()
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(1)) * 7919
				var out [1]Decision
				ops := []Op{{Policy: p}}
				for pb.Next() {
					i++
					ops[0].Key = keys[i%len(keys)]
					_ = st.Take(ctx, ops, now, out[:])
				}
			})
		})
	}
}

// BenchmarkMemoryStoreThreeLimits: one request checked against three limits.
func BenchmarkMemoryStoreThreeLimits(b *testing.B) {
	st := NewMemoryStore(MemoryOptions{})
	ops := []Op{
		{Policy: MustPolicy("a", "1000000/s", 1000000), Key: "ip"},
		{Policy: MustPolicy("b", "1000000/s", 1000000), Key: "user"},
		{Policy: MustPolicy("c", "1000000/s", 1000000), Key: "op"},
	}
	out := make([]Decision, 3)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = st.Take(context.Background(), ops, now, out)
	}
}

// BenchmarkMiddleware: the whole stage (key building, three limits, headers).
func BenchmarkMiddleware(b *testing.B) {
	ip, _ := ParseKey([]string{"ip"}, nil)
	op, _ := ParseKey([]string{"operation", "ip"}, nil)
	user, _ := ParseKey([]string{"user"}, nil)
	mw, err := New(Options{Limits: []Limit{
		{Policy: MustPolicy("per-ip", "1000000/s", 1000000), Key: ip},
		{Policy: MustPolicy("per-op", "1000000/s", 1000000), Key: op},
		{Policy: MustPolicy("per-user", "1000000/s", 1000000), Key: user},
	}})
	if err != nil {
		b.Fatal(err)
	}
	h := mw.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/things/1", nil)
	r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "getThing"}))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkKey: building one bucket key, the ip word against cel: keys of
// growing reach (a header, a claim with a fallback, a concatenation).
func BenchmarkKey(b *testing.B) {
	r := httptest.NewRequest("GET", "/things/1?page=2", nil)
	r.RemoteAddr = "192.0.2.1:4000"
	for _, h := range []string{"Accept", "User-Agent", "X-Request-Id", "Authorization", "Content-Type"} {
		r.Header.Set(h, "value-of-"+h)
	}
	r.Header.Set("X-Tenant", "acme")
	ctx := gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "getThing", Params: map[string]string{"id": "1"}})
	ctx = authn.NewContext(ctx, &authn.Principal{Subject: "alice", Method: "jwt", Claims: map[string]any{"org": "acme"}})
	r = r.WithContext(ctx)
	for _, tc := range []struct{ name, word string }{
		{"ip", "ip"},
		{"header", "header:X-Tenant"},
		{"cel_ip", "cel:request.ip"},
		{"cel_header", `cel:request.headers["x-tenant"]`},
		{"cel_claim_or_ip", `cel:principal.claims.?org.orValue(request.ip)`},
		{"cel_concat", `cel:principal.sub + "/" + request.operation + "/" + request.path.id`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			k, err := ParseKey([]string{tc.word}, nil)
			if err != nil {
				b.Fatal(err)
			}
			var buf [256]byte
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.AppendErr(buf[:0], r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
