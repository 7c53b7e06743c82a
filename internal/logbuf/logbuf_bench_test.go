package logbuf

import (
	"log/slog"
	"os"
	"testing"
	"time"
)

// BenchmarkAccessLine is one access log record through slog's JSON handler
// to a file (/dev/null: the system call without the disk): written
// directly, one write(2) per record, against through a started Writer.
//
//	go test -run '^$' -bench BenchmarkAccessLine -benchmem ./internal/logbuf
func BenchmarkAccessLine(b *testing.B) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	line := func(b *testing.B, log *slog.Logger) {
		b.ReportAllocs()
		for b.Loop() {
			log.LogAttrs(b.Context(), slog.LevelInfo, "request",
				slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("method", "GET"),
				slog.String("path", "/items/12345"), slog.String("operation_id", "getItem"), slog.Int("status", 200),
				slog.Float64("latency_ms", 0.42), slog.Int64("bytes", 393), slog.String("client_ip", "127.0.0.1"))
		}
	}
	b.Run("direct", func(b *testing.B) { line(b, slog.New(slog.NewJSONHandler(f, nil))) })
	b.Run("logbuf", func(b *testing.B) {
		w := New(f, 0, 0)
		w.Start(100*time.Millisecond, nil)
		defer w.Close()
		line(b, slog.New(slog.NewJSONHandler(w, nil)))
	})
}
