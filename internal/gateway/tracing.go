package gateway

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/tracing"
)

// tracingShutdown bounds the flush of a pipeline's queued spans when it
// closes (after its requests drained).
const tracingShutdown = 5 * time.Second

// stageSpans names the span of each stage of Build's stage table; a stage
// not listed here gets its table name.
var stageSpans = map[string]string{
	"rate_limits":                   "rate_limit",
	"rate_limits.concurrency":       "concurrency",
	"request":                       "validation",
	"request.operations.credential": "credential",
}

// afterStages are the stages whose work follows the upstream call: their
// span covers what they do after it returns.
var afterStages = map[string]bool{"response": true}

// buildTracing returns the pipeline's tracer: nil (off, nothing on the
// request path) unless tracing.enabled; tp, when not nil, replaces the
// OTLP exporter (tests, an embedding program's own provider). A provider
// built here is shut down (its queue flushed) when the pipeline closes.
func (b *builder) buildTracing(tp trace.TracerProvider, up *url.URL) (*tracing.Tracer, error) {
	tc := b.cfg.Tracing
	if !tc.Enabled {
		return nil, nil
	}
	if tp == nil {
		p, err := tracing.NewProvider(tracing.ExportOptions{
			URL:         tc.ExportURL(),
			Headers:     tc.Headers,
			ServiceName: tc.ServiceName,
			SampleRatio: tc.SampleRatio,
			Logger:      b.log,
		})
		if err != nil {
			return nil, config.AtPath("tracing", fmt.Errorf("build tracing: %w", err))
		}
		b.onClose(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), tracingShutdown)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				return fmt.Errorf("tracing shutdown: %w", err)
			}
			return nil
		})
		tp = p
	}
	port, _ := strconv.Atoi(up.Port())
	if port == 0 {
		port = 80
		if up.Scheme == "https" {
			port = 443
		}
	}
	return tracing.New(tp, tracing.Options{
		TrustIncoming: tc.TrustIncoming,
		Reason:        reasonLabel,
		UpstreamHost:  up.Hostname(),
		UpstreamPort:  port,
	}), nil
}

// traced wraps the stage mw of Build's table entry name in its span (mw
// unchanged when tracing is off or the stage is off).
func traced(tr *tracing.Tracer, name string, mw gatehouse.Middleware) gatehouse.Middleware {
	span := name
	if s, ok := stageSpans[name]; ok {
		span = s
	}
	if afterStages[name] {
		return tr.After(span, mw)
	}
	return tr.Stage(span, mw)
}
