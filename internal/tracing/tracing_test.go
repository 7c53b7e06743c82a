package tracing

import (
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gatehouse/gatehouse"
)

// TestOffIsNoWrapper: a nil Tracer (tracing off) returns every stage
// unchanged and adds no middleware, so the pipeline runs exactly the code
// it runs without tracing (no allocation, no clock read).
func TestOffIsNoWrapper(t *testing.T) {
	var tr *Tracer
	if New(nil, Options{}) != nil {
		t.Fatal("New(nil) is not off")
	}
	mw := gatehouse.Middleware(func(h http.Handler) http.Handler { return h })
	same := func(a, b gatehouse.Middleware) bool {
		return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
	}
	if !same(tr.Stage("authn", mw), mw) || !same(tr.Route(mw), mw) || !same(tr.After("response", mw), mw) {
		t.Error("off: a stage was wrapped")
	}
	if tr.Request() != nil || tr.Upstream() != nil {
		t.Error("off: Request or Upstream is not nil")
	}
	on := New(noop.NewTracerProvider(), Options{})
	if same(on.Stage("authn", mw), mw) || on.Request() == nil || on.Upstream() == nil {
		t.Error("on: not wrapped")
	}
	if on.Stage("authn", nil) != nil {
		t.Error("on: a nil (off) stage became a wrapper")
	}
}

func TestMethodBounded(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "get": "_OTHER", "PROPFIND": "_OTHER", "X<script>": "_OTHER", "QUERY": "QUERY"} {
		if got := method(in); got != want {
			t.Errorf("method(%q) = %q, want %q", in, got, want)
		}
	}
	if spanName("_OTHER") != "HTTP" {
		t.Error("unknown method span name")
	}
}
