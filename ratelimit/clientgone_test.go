package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// ctxStore fails the way a network store does when the request's context
// is canceled mid-call (go-redis returns the context error), and works
// otherwise.
type ctxStore struct {
	inner ratelimit.Store
	calls atomic.Int64
}

func (s *ctxStore) Take(ctx context.Context, ops []ratelimit.Op, now time.Time, out []ratelimit.Decision) error {
	s.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: redis gcra: %w", ratelimit.ErrStoreUnavailable, err)
	}
	return s.inner.Take(ctx, ops, now, out)
}

// A client hanging up during the store call is not a store failure: with
// on_store_error deny it used to open the backoff, and every other client
// got 503 for the next second (seen with wrk ending its connections). Now
// the abandoned request is recorded as 499 and the next one is served.
func TestClientGoneIsNotAStoreFailure(t *testing.T) {
	for _, mode := range []ratelimit.StoreErrorMode{ratelimit.OnErrorDeny, ratelimit.OnErrorLocal, ratelimit.OnErrorAllow} {
		t.Run(mode.String(), func(t *testing.T) {
			st := &ctxStore{inner: ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})}
			h := newHarness(t, ratelimit.Options{Store: st, OnStoreError: mode, Backoff: 5 * time.Second,
				Limits: []ratelimit.Limit{lim(t, "l", "100/min", 100, []string{"ip"})}})
			var hits atomic.Int64
			handler := h.mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
			serve := func(cancel bool) int {
				r := httptest.NewRequest(http.MethodGet, "/x", nil)
				r.RemoteAddr = "192.0.2.1:40000"
				ctx, stop := context.WithCancel(gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: "r"}))
				defer stop()
				ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: "getThing", Method: "GET"})
				if cancel {
					stop()
				}
				w := httptest.NewRecorder()
				handler.ServeHTTP(w, r.WithContext(ctx))
				return w.Code
			}
			if code := serve(true); code != 499 {
				t.Fatalf("request whose client hung up: %d, want 499", code)
			}
			if hits.Load() != 0 {
				t.Fatal("an abandoned request reached the next handler")
			}
			if n := h.obs.err.Load(); n != 0 {
				t.Fatalf("%d store errors counted for a client hang-up, want 0", n)
			}
			if code := serve(false); code != 200 {
				t.Fatalf("next request: %d, want 200 (no backoff opened)", code)
			}
			if n := st.calls.Load(); n != 2 {
				t.Fatalf("store called %d times, want 2 (the second request was not refused from a backoff)", n)
			}
		})
	}
}
