package waf

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBuildCost loads the CRS in a fresh process (Coraza caches compiled
// patterns process-wide, so only a first load shows the real cost) and
// reports wall time, CPU time and the heap the loaded WAF retains.
func TestBuildCost(t *testing.T) {
	if os.Getenv("GATEHOUSE_WAF_BUILD_CHILD") == "1" {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start, cpu := time.Now(), cpuTime()
		w, err := New(Options{ParanoiaLevel: 1, InspectBody: true})
		if err != nil {
			t.Fatal(err)
		}
		wall, cpuUsed := time.Since(start), cpuTime()-cpu
		runtime.GC()
		runtime.ReadMemStats(&after)
		fmt.Printf("BUILDCOST wall=%v cpu=%v heap_mib=%.1f rules=%d\n", wall.Round(time.Millisecond),
			cpuUsed.Round(time.Millisecond), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), w.Rules())
		runtime.KeepAlive(w)
		return
	}
	if raceEnabled {
		t.Skip("build cost is not meaningful under -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildCost$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_WAF_BUILD_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var wall, cpu time.Duration
	var heap float64
	var rules int
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "BUILDCOST ") {
			var ws, cs string
			if _, err := fmt.Sscanf(l, "BUILDCOST wall=%s cpu=%s heap_mib=%f rules=%d", &ws, &cs, &heap, &rules); err != nil {
				t.Fatalf("parse %q: %v", l, err)
			}
			wall, _ = time.ParseDuration(ws)
			cpu, _ = time.ParseDuration(cs)
		}
	}
	t.Logf("CRS load (first in process, PL1): wall %v, cpu %v, retained heap %.1f MiB, %d rules", wall, cpu, heap, rules)
	if rules < 500 || heap <= 0 {
		t.Fatalf("child reported %d rules, %.1f MiB: the CRS did not load", rules, heap)
	}
	if cpu > 30*time.Second || heap > 512 {
		t.Errorf("CRS load cost cpu %v, heap %.1f MiB: far above the documented ~1 s / ~20 MiB", cpu, heap)
	}
}
