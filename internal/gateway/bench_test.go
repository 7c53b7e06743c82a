package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

// BenchmarkProxy compares a request sent straight to the upstream with the
// same request through the gateway with every optional stage off (route
// match, access log, security headers, CORS and the proxy remain). Both use
// real loopback HTTP with keep-alive. Compare ns/op and allocs/op of the two
// sub-benchmarks; the gateway/direct ratio is the proxy overhead.
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem -benchtime=2000x ./internal/gateway
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1,"name":"Ada"}`)
	}))
	defer up.Close()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(testSpec), 0o600); err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(up.URL, "request:\n  validate: false\nresponse:\n  mode: \"off\"\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()

	run := func(b *testing.B, url string) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, up.URL+"/users/1") })
	b.Run("gateway", func(b *testing.B) { run(b, gw.URL+"/users/1") })
}

// BenchmarkPipelineHandler measures the gateway's own work per request
// (in-process, no client side): stages plus the proxy round trip.
func BenchmarkPipelineHandler(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{}`)
	}))
	defer up.Close()
	dir := b.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(testSpec), 0o600)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	_ = os.WriteFile(cfgPath, []byte(configYAML(up.URL, "request:\n  validate: false\nresponse:\n  mode: \"off\"\n")), 0o600)
	cfg, err := config.Check(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("GET", "/users/1", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}
