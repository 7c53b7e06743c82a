package gateway

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

// BenchmarkOverlayRequest compares a validated request through a pipeline
// built from a spec edited by hand (maxLength written into it) with the
// same request through a pipeline built from the unedited spec plus an
// overlay adding that maxLength: overlays are applied at load, so the two
// pipelines are the same and so is the per-request cost.
//
//	go test -run '^$' -bench BenchmarkOverlayRequest -benchmem -benchtime=20000x ./internal/gateway
func BenchmarkOverlayRequest(b *testing.B) {
	up := httptest.NewServer(nil)
	defer up.Close()
	edited := strings.Replace(testSpec, "schema: {type: object}",
		"schema: {type: object, properties: {name: {type: string, maxLength: 5}}}", 1)
	for _, tc := range []struct{ name, spec, extra string }{
		{"edited-spec", edited, ""},
		{"overlay", testSpec, "spec_overlays: [bound.yaml]\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			for name, data := range map[string]string{"spec.yaml": tc.spec, "bound.yaml": testOverlay,
				"gatehouse.yaml": configYAML(up.URL, tc.extra)} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			cfg, err := config.Check(filepath.Join(dir, "gatehouse.yaml"))
			if err != nil {
				b.Fatal(err)
			}
			p, err := Build(context.Background(), cfg, Deps{})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("POST", "/users", strings.NewReader(`{"name":"abcdef"}`))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != 400 {
					b.Fatalf("status %d, want 400 (maxLength 5)", w.Code)
				}
			}
		})
	}
}
