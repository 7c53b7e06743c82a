package redislimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestMiddlewareRedisDown stops a real Redis under the middleware and checks
// each on_store_error mode, then restarts it and checks that decisions go
// back to Redis without any restart of the middleware.
func TestMiddlewareRedisDown(t *testing.T) {
	for _, tt := range []struct {
		mode     ratelimit.StoreErrorMode
		duringUp []int
		duringDn []int
	}{
		{ratelimit.OnErrorLocal, []int{200, 200, 429}, []int{200, 200, 429}},
		{ratelimit.OnErrorAllow, []int{200, 200, 429}, []int{200, 200, 200}},
		{ratelimit.OnErrorDeny, []int{200, 200, 429}, []int{503, 503, 503}},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			rp := startRedis(t)
			clk := &clock{t: t0}
			st, err := redislimit.New(redislimit.Options{URL: rp.url(), ClientTime: true, DialTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			key, _ := ratelimit.ParseKey([]string{"ip"}, nil)
			mw, err := ratelimit.New(ratelimit.Options{Store: st, OnStoreError: tt.mode, Now: clk.Now, Backoff: 2 * time.Second,
				Limits: []ratelimit.Limit{{Policy: ratelimit.MustPolicy("l", "2/h", 2), Key: key}}})
			if err != nil {
				t.Fatal(err)
			}
			h := mw.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			do := func() int {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
				return w.Code
			}
			for i, want := range tt.duringUp {
				if got := do(); got != want {
					t.Fatalf("redis up, request %d: %d, want %d", i, got, want)
				}
			}
			rp.stop()
			for i, want := range tt.duringDn {
				if got := do(); got != want {
					t.Fatalf("redis down, request %d: %d, want %d", i, got, want)
				}
			}
			rp.start()
			clk.Add(2 * time.Second) // backoff over
			if got := do(); got != 200 {
				t.Fatalf("redis back: %d, want 200", got)
			}
			c := redis.NewClient(&redis.Options{Addr: rp.url()[len("redis://") : len(rp.url())-2]})
			defer c.Close()
			if n, err := c.DBSize(context.Background()).Result(); err != nil || n != 1 {
				t.Fatalf("restarted redis holds %d keys (%v), want 1: decisions did not go back to redis", n, err)
			}
			if got := do(); got != 200 {
				t.Fatalf("redis back, 2nd: %d", got)
			}
			if got := do(); got != 429 {
				t.Fatalf("redis back, 3rd: %d, want 429 from redis", got)
			}
		})
	}
}
