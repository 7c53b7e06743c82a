package introspect_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/introspect"
)

// BenchmarkCached is the per-request cost of an opaque token whose answer
// is cached (SHA-256 of the token and an LRU lookup).
func BenchmarkCached(b *testing.B) {
	d, a, clk := setup(b)
	d.set("tok", active(clk, time.Hour))
	r := bearer("tok")
	if _, err := a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUncached adds one introspection round trip to a loopback
// endpoint (cache off).
func BenchmarkUncached(b *testing.B) {
	d, a, clk := setup(b, func(o *introspect.Options) { o.CacheSize = -1 })
	for i := range 64 {
		d.set("tok"+strconv.Itoa(i), active(clk, time.Hour))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.Authenticate(bearer("tok" + strconv.Itoa(i%64))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
