// Package tracing adds OpenTelemetry spans to the gateway's stage
// composition: one server span per request, one child span per stage
// (route, authn, rate limit, authz, validation, ...), one client span for
// the upstream call, with W3C trace context (traceparent, tracestate)
// injected into the upstream request.
//
// The spans are added where the stages are composed (internal/gateway's
// Build), never inside a stage. A nil *Tracer is tracing off: every method
// then returns its argument unchanged (or nil), so the pipeline has no
// wrapper, no allocation and no clock read for tracing at all.
//
// Security trade-off: a client's traceparent is adopted as the parent of
// the gateway's spans only with Options.TrustIncoming (a deployment behind
// a trusted edge that starts the traces). Otherwise any client could choose
// the trace id of the gateway's spans (and, with the sampled flag, force
// sampling): the gateway starts a new trace and keeps the client's span
// context only as a span link, and the client's traceparent and tracestate
// never reach the upstream. Span attributes never carry header values,
// cookies, bodies, the query or the raw path: only the method, the spec's
// path template (http.route), the status and the gatehouse decision (the
// bounded stage and reason the access log's metrics use).
package tracing

import (
	"context"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
)

// ScopeName is the instrumentation scope of every gatehouse span.
const ScopeName = "github.com/gatehouse/gatehouse/internal/tracing"

// Attribute keys of the gatehouse decision (the OTel HTTP semantic
// conventions name the rest).
const (
	// AttrBlockedStage is the stage that answered the request itself
	// (authn, rate_limit, ...); absent when the upstream answered.
	AttrBlockedStage = attribute.Key("gatehouse.blocked.stage")
	// AttrBlockedReason is the bounded reason of the block: the
	// config-defined rule name or fixed kind, never request text.
	AttrBlockedReason = attribute.Key("gatehouse.blocked.reason")
	// AttrOperation is the spec's operationId of the matched route.
	AttrOperation = attribute.Key("gatehouse.operation_id")
	// AttrRequestID is the request ID of the access log line.
	AttrRequestID = attribute.Key("gatehouse.request_id")
	// AttrBlocked marks a stage span whose stage answered instead of
	// passing the request on.
	AttrBlocked = attribute.Key("gatehouse.blocked")
)

// Options configure a Tracer.
type Options struct {
	// TrustIncoming adopts a client's traceparent/tracestate as the parent
	// of the request span. False (the default): a new trace is started and
	// the incoming span context is only linked.
	TrustIncoming bool
	// Reason bounds a Record's block reason for the span attribute (the
	// gateway passes its metric-label function); nil drops the reason.
	Reason func(string) string
	// UpstreamHost and UpstreamPort are the upstream span's server.address
	// and server.port (from the config, not from the request).
	UpstreamHost string
	UpstreamPort int
}

// Tracer creates the gateway's spans. It is immutable and safe for
// concurrent use; a nil *Tracer is tracing off.
type Tracer struct {
	tr   trace.Tracer
	opts Options
	prop propagation.TraceContext
}

// New returns a Tracer using tp, or nil (tracing off) when tp is nil.
func New(tp trace.TracerProvider, o Options) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{tr: tp.Tracer(ScopeName), opts: o}
}

// knownMethods are the methods recorded as themselves; any other is
// "_OTHER" (semantic conventions), so a client cannot put text of its
// choosing into http.request.method or the span name.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions, http.MethodConnect: http.MethodConnect, http.MethodTrace: http.MethodTrace,
	"QUERY": "QUERY",
}

func method(m string) string {
	if k, ok := knownMethods[m]; ok {
		return k
	}
	return "_OTHER"
}

// spanName is "{method}" before routing (HTTP for an unknown method).
func spanName(m string) string {
	if m == "_OTHER" {
		return "HTTP"
	}
	return m
}

// Request returns the outermost tracing middleware: it starts the server
// span (honouring or only linking the incoming trace context, see
// Options.TrustIncoming) and ends it with the response status and the
// gatehouse decision read from the request's gatehouse.Record. Place it
// inside the middleware that creates the Record. Nil when t is nil.
func (t *Tracer) Request() gatehouse.Middleware {
	if t == nil {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			m := method(r.Method)
			opts := []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(semconv.HTTPRequestMethodKey.String(m), schemeOf(r)),
			}
			// A repeated traceparent is invalid (W3C Trace Context §3.2):
			// which one a hop would read is not defined.
			if tp := r.Header.Values("Traceparent"); len(tp) == 1 && tp[0] != "" {
				in := trace.SpanContextFromContext(t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header)))
				switch {
				case !in.IsValid():
				case t.opts.TrustIncoming:
					ctx = trace.ContextWithRemoteSpanContext(ctx, in)
				default:
					opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: in}))
				}
			}
			ctx, span := t.tr.Start(ctx, spanName(m), opts...)
			sw := &httpx.StatusWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				t.endRequest(ctx, span, sw.Status, v != nil)
				if v != nil {
					panic(v)
				}
			}()
			next.ServeHTTP(sw, r.WithContext(ctx))
		})
	}
}

func schemeOf(r *http.Request) attribute.KeyValue {
	if r.TLS != nil {
		return semconv.URLScheme("https")
	}
	return semconv.URLScheme("http")
}

func (t *Tracer) endRequest(ctx context.Context, span trace.Span, status int, aborted bool) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if status == 0 && !aborted {
		status = http.StatusOK
	}
	if status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	if rec := gatehouse.RecordFrom(ctx); rec != nil {
		s := rec.Snapshot()
		if s.RequestID != "" {
			span.SetAttributes(AttrRequestID.String(s.RequestID))
		}
		if s.OperationID != "" {
			span.SetAttributes(AttrOperation.String(s.OperationID))
		}
		if s.Stage != "" {
			span.SetAttributes(AttrBlockedStage.String(s.Stage))
			if t.opts.Reason != nil {
				span.SetAttributes(AttrBlockedReason.String(t.opts.Reason(s.Reason)))
			}
		}
	}
	switch {
	case aborted:
		span.SetAttributes(semconv.ErrorTypeKey.String("aborted"))
		span.SetStatus(codes.Error, "")
	case status >= 500:
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
}

// stageKey is the context key of the running stage's *stageState;
// afterKey that of an After stage.
type (
	stageKey struct{}
	afterKey struct{}
)

// stageState links a stage's wrapper with the hook its stage calls as
// "next": the hook ends the stage span and hands the request span back as
// the parent, so stage spans are siblings under the request span.
type stageState struct {
	parent trace.Span
	span   trace.Span
	passed bool
}

// Stage wraps the stage mw so that its own work (from entry until it calls
// the next handler, or returns without calling it) is a child span name of
// the request span. A stage that answers itself gets gatehouse.blocked =
// true. mw is returned unchanged when t or mw is nil.
func (t *Tracer) Stage(name string, mw gatehouse.Middleware) gatehouse.Middleware {
	return t.stage(name, mw, false)
}

// Route is Stage for the route-match stage: once the route is known it
// also names the request span "{method} {template}" and sets http.route
// to the spec's path template.
func (t *Tracer) Route(mw gatehouse.Middleware) gatehouse.Middleware {
	return t.stage("route", mw, true)
}

func (t *Tracer) stage(name string, mw gatehouse.Middleware, route bool) gatehouse.Middleware {
	if t == nil || mw == nil {
		return mw
	}
	return func(next http.Handler) http.Handler {
		hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			st, _ := ctx.Value(stageKey{}).(*stageState)
			if st == nil || st.passed {
				next.ServeHTTP(w, r)
				return
			}
			st.passed = true
			st.span.End()
			if route && st.parent.IsRecording() {
				if rt := gatehouse.RouteFrom(ctx); rt != nil {
					st.parent.SetName(spanName(method(rt.Method)) + " " + rt.Template)
					st.parent.SetAttributes(semconv.HTTPRoute(rt.Template))
				}
			}
			next.ServeHTTP(w, r.WithContext(trace.ContextWithSpan(ctx, st.parent)))
		})
		inner := mw(hook)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			parent := trace.SpanFromContext(ctx)
			if !parent.IsRecording() {
				// Unsampled: nothing to record, so no stage span and no
				// per-stage context (the hook passes straight through).
				inner.ServeHTTP(w, r)
				return
			}
			st := &stageState{parent: parent}
			ctx, st.span = t.tr.Start(ctx, name)
			defer func() {
				if !st.passed {
					st.span.SetAttributes(AttrBlocked.Bool(true))
					st.span.End()
				}
			}()
			inner.ServeHTTP(w, r.WithContext(context.WithValue(ctx, stageKey{}, st)))
		})
	}
}

// After wraps a stage whose work follows the next handler (the response
// filter): its span starts when the next handler returns and ends when the
// stage returns. mw is returned unchanged when t or mw is nil.
func (t *Tracer) After(name string, mw gatehouse.Middleware) gatehouse.Middleware {
	if t == nil || mw == nil {
		return mw
	}
	return func(next http.Handler) http.Handler {
		hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if st, _ := r.Context().Value(afterKey{}).(*stageState); st != nil && st.span == nil {
				_, st.span = t.tr.Start(trace.ContextWithSpan(r.Context(), st.parent), name)
			}
		})
		inner := mw(hook)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			parent := trace.SpanFromContext(ctx)
			if !parent.IsRecording() {
				inner.ServeHTTP(w, r)
				return
			}
			st := &stageState{parent: parent}
			defer func() {
				if st.span != nil {
					st.span.End()
				}
			}()
			inner.ServeHTTP(w, r.WithContext(context.WithValue(ctx, afterKey{}, st)))
		})
	}
}

// Upstream returns the innermost middleware, directly in front of the
// proxy: a client span around the upstream call, whose context replaces
// any client-sent traceparent and tracestate on the forwarded request.
// Nil when t is nil.
func (t *Tracer) Upstream() gatehouse.Middleware {
	if t == nil {
		return nil
	}
	attrs := []attribute.KeyValue{}
	if t.opts.UpstreamHost != "" {
		attrs = append(attrs, semconv.ServerAddress(t.opts.UpstreamHost))
	}
	if t.opts.UpstreamPort != 0 {
		attrs = append(attrs, semconv.ServerPort(t.opts.UpstreamPort))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := method(r.Method)
			ctx, span := t.tr.Start(r.Context(), spanName(m), trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(semconv.HTTPRequestMethodKey.String(m)), trace.WithAttributes(attrs...))
			// The client's trace headers never pass: the upstream sees the
			// gateway's span as its parent (also when the incoming context
			// was adopted: it is then this span's ancestor).
			r.Header.Del("Traceparent")
			r.Header.Del("Tracestate")
			t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
			sw := &httpx.StatusWriter{ResponseWriter: w}
			defer func() {
				if sw.Status != 0 {
					span.SetAttributes(semconv.HTTPResponseStatusCode(sw.Status))
				}
				if sw.Status >= 500 || sw.Status == 0 {
					span.SetAttributes(semconv.ErrorTypeKey.String(errorType(sw.Status)))
					span.SetStatus(codes.Error, "")
				}
				span.End()
			}()
			next.ServeHTTP(sw, r.WithContext(ctx))
		})
	}
}

func errorType(status int) string {
	if status == 0 {
		return "no_response"
	}
	return strconv.Itoa(status)
}
