package httpx

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// The body cache's context keeps the parent's values and cancellation, and
// every request sharing it reads the body once.
func TestBodyCacheContext(t *testing.T) {
	type k struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), k{}, "v"))
	ctx := WithBodyCache(parent)
	if ctx.Value(k{}) != "v" {
		t.Fatalf("parent value lost: %v", ctx.Value(k{}))
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`)).WithContext(ctx)
	b1, err := Body(r, 100)
	if err != nil || string(b1) != `{"a":1}` {
		t.Fatalf("Body = %q, %v", b1, err)
	}
	// A second request on the same context (a later stage's copy) whose own
	// body is different still gets the cached bytes: one read per request.
	r2 := httptest.NewRequest("POST", "/", strings.NewReader(`{"evil":true}`)).WithContext(ctx)
	b2, err := Body(r2, 100)
	if err != nil || string(b2) != `{"a":1}` {
		t.Fatalf("second Body = %q, %v, want the cached bytes", b2, err)
	}
	if fwd, _ := io.ReadAll(r2.Body); string(fwd) != `{"a":1}` {
		t.Fatalf("forwarded body = %q, want the cached bytes", fwd)
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("ctx.Err() = %v after the parent's cancel", ctx.Err())
	}
	if n := testing.AllocsPerRun(100, func() { ctxSink = WithBodyCache(parent) }); n != 1 {
		t.Errorf("WithBodyCache: %v allocs, want 1", n)
	}
}

var ctxSink context.Context
