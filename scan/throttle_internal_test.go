package scan

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{http.Header{"Retry-After": {" 0 "}}, 0, true},
		{http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Ratelimit": {`"default";r=0;t=7`}}, 7 * time.Second, true},
		{http.Header{"Ratelimit-Reset": {"2"}}, 2 * time.Second, true},
		{http.Header{"Retry-After": {"-4"}}, 0, false},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{"Ratelimit": {`"default";r=0;t=x`}}, 0, false},
		{http.Header{}, 0, false},
	} {
		got, ok := retryAfter(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%v) = %v %v, want %v %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
	// No header: 1s, then 2s; a zero wait becomes 100ms.
	ex := &Exchange{Status: http.StatusTooManyRequests, Header: http.Header{}}
	if d, ok := throttleWait(ex, 0); !ok || d != time.Second {
		t.Errorf("first wait without header = %v %v, want 1s", d, ok)
	}
	if d, _ := throttleWait(ex, 1); d != 2*time.Second {
		t.Errorf("second wait without header = %v, want 2s", d)
	}
	ex.Header.Set("Retry-After", "0")
	if d, _ := throttleWait(ex, 0); d != 100*time.Millisecond {
		t.Errorf("Retry-After 0 waits %v, want 100ms", d)
	}
	if _, ok := throttleWait(&Exchange{Status: http.StatusServiceUnavailable, Header: http.Header{}}, 0); ok {
		t.Error("503 without Retry-After counted as throttled")
	}
}
