// Command specload measures how long loading an OpenAPI document takes and
// how much memory it costs, with libopenapi (gatehouse's spec model) or with
// kin-openapi, in a fresh process so the numbers do not mix:
//
//	go run ./bench/specload -lib libopenapi ../shared/specs/openai/openapi.yaml
//	go run ./bench/specload -lib kin ../shared/specs/openai/openapi.yaml
//
// It prints wall time, bytes allocated during the load, and heap retained
// by the loaded model after a GC (what a running gateway keeps).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse/gatehouse/internal/openapi"
)

func main() {
	lib := flag.String("lib", "libopenapi", "libopenapi or kin")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: specload [-lib libopenapi|kin] SPEC")
		os.Exit(2)
	}
	path := flag.Arg(0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	keep, ops, err := load(*lib, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(keep)
	fmt.Printf("lib=%s ops=%d time=%v allocated=%.0fMiB retained=%.0fMiB\n",
		*lib, ops, elapsed.Round(time.Millisecond), float64(allocated)/(1<<20), float64(retained)/(1<<20))
}

// load loads path with lib ("libopenapi" or "kin") and returns the model
// (kept alive by the caller while memory is measured) and its operation count.
func load(lib, path string) (model any, ops int, err error) {
	switch lib {
	case "libopenapi":
		s, err := openapi.Load(path)
		if err != nil {
			return nil, 0, err
		}
		return s, len(s.Operations), nil
	case "kin":
		l := openapi3.NewLoader()
		l.IsExternalRefsAllowed = true
		d, err := l.LoadFromFile(path)
		if err != nil {
			return nil, 0, err
		}
		for _, pi := range d.Paths.Map() {
			ops += len(pi.Operations())
		}
		return d, ops, nil
	}
	return nil, 0, fmt.Errorf("unknown -lib %q (want libopenapi or kin)", lib)
}
