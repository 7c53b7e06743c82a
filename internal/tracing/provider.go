package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ExportOptions configure the OTLP/HTTP exporter of NewProvider.
type ExportOptions struct {
	// URL is the full OTLP/HTTP traces URL, path included
	// ("https://collector:4318/v1/traces"); an http:// URL exports in
	// plain text.
	URL string
	// Headers are sent with every export request (collector credentials);
	// they are never logged.
	Headers map[string]string
	// ServiceName is the resource's service.name.
	ServiceName string
	// ServiceVersion is the resource's service.version ("" leaves it out).
	ServiceVersion string
	// SampleRatio is the fraction of new traces sampled, 0 to 1; a trace
	// adopted from a trusted incoming traceparent follows its sampled flag.
	SampleRatio float64
	// Timeout bounds one export request (0: 10s).
	Timeout time.Duration
	// Logger receives export failures (nil discards).
	Logger *slog.Logger
}

// NewProvider returns an SDK TracerProvider that batches spans (2048
// queued at most; spans are dropped, never waited for, when the queue is
// full) and exports them over OTLP/HTTP protobuf. It does not connect
// until the first export. The caller must Shutdown it (flushes what is
// queued, bounded by ctx).
func NewProvider(o ExportOptions) (*sdktrace.TracerProvider, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(o.URL),
		otlptracehttp.WithHeaders(o.Headers),
		otlptracehttp.WithTimeout(timeout),
	)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(o.ServiceName)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.ServiceVersion))
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&logExporter{SpanExporter: exp, log: log.With("component", "tracing")}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, attrs...)),
	), nil
}

// logExporter logs a failed export with slog (the span batch is dropped;
// requests are never slowed by the collector) instead of handing it to
// OpenTelemetry's process-global error handler.
type logExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger
}

func (e *logExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.log.Warn("trace export failed", "spans", len(spans), "error", err)
	}
	return nil
}
