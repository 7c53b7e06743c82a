package waf

import (
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// cpuTime is the process's user+system CPU time: on a shared, loaded
// machine wall-clock ns/op mostly measures waiting, so the benchmarks
// also report cpu-ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op to b; call it with the value of cpuTime() taken
// after b.ResetTimer.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// benchJSON is a typical 1 KiB JSON request body.
var benchJSON = func() string {
	var b strings.Builder
	b.WriteString(`{"customer":{"name":"Ann O'Brien","email":"ann@example.com","phone":"+44 20 7946 0958"},"items":[`)
	for i := 0; b.Len() < 900; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":"SKU-10042","qty":2,"note":"gift wrap, please"}`)
	}
	b.WriteString(`],"comment":"Leave it at the door."}`)
	return b.String()
}()

// BenchmarkCheck measures one CRS transaction (phases 1-2) in process.
//
//	go test -run '^$' -bench BenchmarkCheck -benchmem -benchtime=2000x ./waf
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		w    func(testing.TB) *WAF
	}{{"PL1", pl1}, {"PL2", pl2}} {
		w := bc.w(b)
		b.Run(bc.name+"/GET query", func(b *testing.B) {
			b.ReportAllocs()
			c := cpuTime()
			defer reportCPU(b, c)
			for i := 0; i < b.N; i++ {
				if check(b, w, req("GET", "/orders?status=shipped&customer=ann%40example.com&limit=20", "", "")).Blocked {
					b.Fatal("blocked")
				}
			}
		})
		// A routed GET with two path parameters, without the route in the
		// context (URI only, as before ARGS_PATH) and with it.
		for _, routed := range []bool{false, true} {
			name := bc.name + "/GET path, URI only"
			if routed {
				name = bc.name + "/GET path, + ARGS_PATH"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				c := cpuTime()
				defer reportCPU(b, c)
				for i := 0; i < b.N; i++ {
					r := req("GET", "/orders/ord-12345/items/7", "", "")
					if routed {
						r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "getOrderItem",
							Params: map[string]string{"order_id": "ord-12345", "item_id": "7"}}))
					}
					if check(b, w, r).Blocked {
						b.Fatal("blocked")
					}
				}
			})
		}
		b.Run(bc.name+"/POST 1KiB JSON", func(b *testing.B) {
			b.ReportAllocs()
			c := cpuTime()
			defer reportCPU(b, c)
			for i := 0; i < b.N; i++ {
				// PL2 blocks this benign body (942200 on JSON punctuation):
				// measured, not failed.
				if v := check(b, w, req("POST", "/orders", "application/json", benchJSON)); v.Blocked && bc.name == "PL1" {
					b.Fatalf("blocked by %v", v.Matched)
				}
			}
		})
	}
}

// BenchmarkNew measures building a WAF while another one is open, as a
// config reload does: Coraza reuses the compiled patterns, so this is the
// reload cost (parse + rule objects) and the extra heap per WAF
// (retained-MiB). TestBuildCost measures a first load in a fresh process.
//
//	go test -run '^$' -bench BenchmarkNew -benchmem -benchtime=3x ./waf
func BenchmarkNew(b *testing.B) {
	var ws []*WAF
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := cpuTime()
	for i := 0; i < b.N; i++ {
		w, err := New(Options{ParanoiaLevel: 1, InspectBody: true})
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
	}
	reportCPU(b, c)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(ws))/(1<<20), "retained-MiB")
	runtime.KeepAlive(ws)
}
