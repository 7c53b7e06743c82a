package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
)

// realSpecs are the large real documents of ../shared/specs (skipped when
// absent).
var realSpecs = map[string]string{
	"openai":       "../../shared/specs/openai/openapi.yaml",
	"digitalocean": "../../shared/specs/digitalocean/specification/DigitalOcean-public.v2.yaml",
}

func loadReal(b testing.TB, name string) *openapi.Spec {
	b.Helper()
	p, _ := filepath.Abs(realSpecs[name])
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s not present: %v", p, err)
	}
	s, err := openapi.Load(p)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRun measures the rules alone (the spec is loaded once, outside
// the timer): go test -run '^$' -bench BenchmarkRun -benchtime 3x ./audit
func BenchmarkRun(b *testing.B) {
	for _, name := range []string{"openai", "digitalocean"} {
		b.Run(name, func(b *testing.B) {
			s := loadReal(b, name)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := audit.Run(context.Background(), s, audit.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
