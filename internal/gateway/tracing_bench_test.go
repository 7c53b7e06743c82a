package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/internal/config"
)

// BenchmarkTracing measures the gateway's own work per request (in
// process, stages plus the loopback proxy round trip) with the stages of
// tracingConfig on (API-key authn, rate limit, authz, validation, response
// filter), tracing off and on. "on" records every request and queues it
// to the SDK's batch processor (the exporter discards: the network cost of
// export is off the request path); "on-unsampled" is sample_ratio 0 (span
// contexts and traceparent still made, nothing recorded).
//
//	go test -run '^$' -bench BenchmarkTracing -benchmem -benchtime=2000x ./internal/gateway
func BenchmarkTracing(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1"}`)
	}))
	defer up.Close()
	dir := b.TempDir()
	sum := sha256.Sum256([]byte(tracingAPIKey))
	files := map[string]string{
		"spec.yaml": testSpec,
		"keys.yaml": "- {hash: \"sha256:" + hex.EncodeToString(sum[:]) + "\", subject: key-user}\n",
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	build := func(b *testing.B, tracing string, tp trace.TracerProvider) *Pipeline {
		cfgPath := filepath.Join(dir, "gatehouse.yaml")
		if err := os.WriteFile(cfgPath, []byte(tracingConfig(up.URL, tracing)), 0o600); err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Check(cfgPath)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Build(context.Background(), cfg, Deps{TracerProvider: tp})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	run := func(b *testing.B, p *Pipeline) {
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := httptest.NewRequest("GET", "/users/1", nil)
			r.RemoteAddr = "127.0.0.1:1234"
			r.Header.Set("X-API-Key", tracingAPIKey)
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		}
	}
	const on = "tracing: { enabled: true, endpoint: \"https://collector.invalid\" }\n"
	b.Run("off", func(b *testing.B) { run(b, build(b, "", nil)) })
	b.Run("on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		run(b, build(b, on, tp))
	})
	b.Run("on-unsampled", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		run(b, build(b, on, tp))
	})
}
