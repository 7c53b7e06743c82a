package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
)

// chain builds the gateway's traced shape around pass-through stages: the
// request span, the route stage (which puts a Route in the ctx), six stages,
// one After stage and the upstream span, in front of a handler answering
// 200. With t nil it is the same chain untraced.
func chain(t *Tracer) http.Handler {
	pass := gatehouse.Middleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r) })
	})
	rt := &gatehouse.Route{OperationID: "getUser", Method: "GET", Template: "/users/{id}"}
	route := gatehouse.Middleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(gatehouse.WithRoute(r.Context(), rt)))
		})
	})
	mws := []gatehouse.Middleware{t.Request(), t.Route(route)}
	for _, n := range []string{"authn", "rate_limit", "authz", "validation", "credential", "waf"} {
		mws = append(mws, t.Stage(n, pass))
	}
	mws = append(mws, t.After("response", pass), t.Upstream())
	return gatehouse.Chain(mws...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
}

// BenchmarkOverhead isolates what tracing adds per request to a chain of
// nine stages (no network, no stage work): off is the untraced chain; on
// records and queues every span to the batch processor (discarding
// exporter); on-unsampled is sample ratio 0.
//
//	go test -run '^$' -bench BenchmarkOverhead -benchmem -benchtime=20000x ./internal/tracing
func BenchmarkOverhead(b *testing.B) {
	run := func(b *testing.B, tp trace.TracerProvider) {
		h := chain(New(tp, Options{TrustIncoming: false, UpstreamHost: "up", UpstreamPort: 80}))
		r := httptest.NewRequest("GET", "/users/1", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w := httptest.NewRecorder()
			r.Header.Del("Traceparent")
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	}
	b.Run("off", func(b *testing.B) { run(b, nil) })
	b.Run("on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		run(b, tp)
	})
	b.Run("on-unsampled", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		run(b, tp)
	})
}

// TestChainSpans: the benchmark's chain records one server span with nine
// children: route, six stages, response, upstream.
func TestChainSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	h := chain(New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), Options{}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/1", nil))
	spans := rec.Ended()
	if len(spans) != 10 {
		t.Fatalf("%d spans, want 10", len(spans))
	}
	root := spans[len(spans)-1]
	if root.Name() != "GET /users/{id}" || root.SpanKind() != trace.SpanKindServer {
		t.Fatalf("last ended span %q %v, want the server span", root.Name(), root.SpanKind())
	}
	for _, s := range spans[:len(spans)-1] {
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want the server span", s.Name(), s.Parent().SpanID())
		}
	}
}
