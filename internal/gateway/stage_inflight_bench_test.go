package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// BenchmarkInFlightStage: the cost per request of rate_limits.concurrency
// (caps taken and released, a per-key map entry, a timeout context) around
// a handler that does nothing.
func BenchmarkInFlightStage(b *testing.B) {
	key := func() *keyedCap {
		k, err := newKeyedCap(&config.InFlightKey{Key: config.StringList{"ip"}, MaxInFlight: 10}, ratelimit.ClientIPFunc(nil), nil, "op")
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	for _, tt := range []struct {
		name string
		op   func() *opInflight
	}{
		{"operation cap", func() *opInflight { return &opInflight{cap: &inflightCap{max: 100}} }},
		{"operation cap+per-key ip", func() *opInflight { return &opInflight{cap: &inflightCap{max: 100}, perKey: key()} }},
		{"operation cap+per-key ip+timeout", func() *opInflight {
			return &opInflight{cap: &inflightCap{max: 100}, perKey: key(), timeout: time.Second}
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			mm, err := newInflightMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			o := tt.op()
			mm.bind(o, "op")
			s := &inflightStage{global: &inflightCap{max: 1000}, status: 503, retryAfter: "1", ops: map[string]*opInflight{"op": o}}
			h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest("GET", "/x", nil)
			r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "op"}))
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
