// Command specload measures how long loading an OpenAPI document takes and
// how much memory it costs, each document in a fresh child process so the
// numbers do not mix:
//
//	go build -o /tmp/specload ./bench/specload
//	/tmp/specload ../shared/specs/openai/openapi.yaml \
//	    ../shared/specs/digitalocean/specification/DigitalOcean-public.v2.yaml
//
// The default -lib gateway is what `gatehouse validate` and `serve` pay: the
// spec loaded and the whole pipeline built with the default config (request
// validation and the response filter on), then a second Build of the same,
// unchanged config in the same process (what a reload costs). -lib
// libopenapi and -lib kin load the model only (gatehouse's spec model or
// kin-openapi). For each document it prints the process's CPU time (user +
// system, getrusage of the child), the wall time of the load, the peak RSS
// (maxrss of the child), and for gateway the reload's CPU and wall time.
//
// After the reload it collects garbage and reports the live heap: what the
// running gateway keeps (the spec model and the compiled stages). The peak
// RSS cannot be lower than that plus the process's baseline (37 MiB for a
// one-operation spec), so it is the figure to cut first.
//
// -cpuprofile and -memprofile write pprof profiles of the (first) load;
// -heapprofile writes the live heap at the end (inuse_space: what holds
// the memory). -request=false and -response=false turn request validation
// and the response filter off, to attribute the live heap to the stages.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/openapi"
)

func main() {
	lib := flag.String("lib", "gateway", "gateway (full Build, default config), libopenapi or kin")
	child := flag.Bool("child", false, "internal: measure one document in this process")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the load to `file`")
	memprof := flag.String("memprofile", "", "write a heap profile (alloc_space) of the load to `file`")
	profReload := flag.Bool("profile-reload", false, "profile the reload instead of the cold load")
	heapprof := flag.String("heapprofile", "", "write a heap profile of the live heap at the end (after a garbage collection) to `file`")
	request := flag.Bool("request", true, "gateway: request validation on")
	response := flag.Bool("response", true, "gateway: response filter on")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: specload [-lib gateway|libopenapi|kin] [-cpuprofile F] [-memprofile F] SPEC...")
		os.Exit(2)
	}
	if *child {
		stages = stageConfig(*request, *response)
		if err := measure(*lib, flag.Arg(0), *cpuprof, *memprof, *heapprof, *profReload); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "doc\tlib\tops\tCPU\twall\tpeak RSS\treload CPU\treload wall\tpeak RSS after reload\tlive heap at end\t")
	failed := false
	for _, path := range flag.Args() {
		args := []string{"-child", "-lib", *lib}
		if *cpuprof != "" {
			args = append(args, "-cpuprofile", *cpuprof)
		}
		if *memprof != "" {
			args = append(args, "-memprofile", *memprof)
		}
		if *profReload {
			args = append(args, "-profile-reload")
		}
		if *heapprof != "" {
			args = append(args, "-heapprofile", *heapprof)
		}
		args = append(args, "-request="+strconv.FormatBool(*request), "-response="+strconv.FormatBool(*response))
		cmd := exec.Command(os.Args[0], append(args, path)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		r, err := parseChild(out.String())
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		reloadCPU, reloadWall, reloadRSS := "-", "-", "-"
		if r.reloadWall > 0 {
			reloadCPU = ms(r.reloadCPU) + " (" + pct(r.reloadCPU, r.loadCPU) + ")"
			reloadWall = ms(r.reloadWall)
			reloadRSS = strconv.FormatInt(ru.Maxrss>>10, 10) + " MiB"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d MiB\t%s\t%s\t%s\t%d MiB\t\n", filepath.Base(path), *lib, r.ops,
			ms(r.loadCPU), ms(r.loadWall), r.loadRSS>>10, reloadCPU, reloadWall, reloadRSS, r.live>>20)
	}
	tw.Flush()
	if failed {
		os.Exit(1)
	}
}

// result is what a child prints: one line of key=value pairs.
type result struct {
	ops                   int
	loadRSS               int64 // KiB, maxrss right after the cold load
	live                  int64 // bytes of live heap at the end (after a GC)
	loadCPU, loadWall     time.Duration
	reloadCPU, reloadWall time.Duration
}

func parseChild(s string) (result, error) {
	var r result
	for f := range strings.FieldsSeq(s) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "ops":
			r.ops, err = strconv.Atoi(v)
		case "load_cpu":
			r.loadCPU, err = time.ParseDuration(v)
		case "live_bytes":
			r.live, err = strconv.ParseInt(v, 10, 64)
		case "load_rss_kib":
			r.loadRSS, err = strconv.ParseInt(v, 10, 64)
		case "load_wall":
			r.loadWall, err = time.ParseDuration(v)
		case "reload_cpu":
			r.reloadCPU, err = time.ParseDuration(v)
		case "reload_wall":
			r.reloadWall, err = time.ParseDuration(v)
		}
		if err != nil {
			return r, fmt.Errorf("child output %q: %w", s, err)
		}
	}
	if r.loadWall == 0 {
		return r, fmt.Errorf("child output %q: no load_wall", s)
	}
	return r, nil
}

// measure runs in the child: one cold load, and for gateway a second Build.
func measure(lib, path, cpuprof, memprof, heapprof string, profReload bool) error {
	var stopProfile func() error = func() error { return nil }
	startProfile := func() error {
		if cpuprof == "" {
			return nil
		}
		f, err := os.Create(cpuprof)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stopProfile = func() error { pprof.StopCPUProfile(); return f.Close() }
		return nil
	}
	if !profReload {
		if err := startProfile(); err != nil {
			return err
		}
	}
	if memprof != "" || heapprof != "" {
		runtime.MemProfileRate = 64 << 10
	}
	t0 := time.Now()
	cpu0, _ := usage()
	keep, ops, reload, err := load(lib, path)
	if err != nil {
		return err
	}
	t1 := time.Now()
	cpu1, rss := usage()
	if err := stopProfile(); err != nil {
		return err
	}
	if memprof != "" {
		// A heap profile reflects the last completed collection: without
		// this one, what the load allocated after it is missing.
		runtime.GC()
		f, err := os.Create(memprof)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
		f.Close()
	}
	fmt.Printf("ops=%d load_cpu=%v load_wall=%v load_rss_kib=%d", ops, cpu1-cpu0, t1.Sub(t0), rss)
	if reload != nil {
		if profReload {
			if err := startProfile(); err != nil {
				return err
			}
		}
		t2 := time.Now()
		cpu2, _ := usage()
		if err := reload(); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		if profReload {
			if err := stopProfile(); err != nil {
				return err
			}
		}
		wall := time.Since(t2)
		cpu3, _ := usage()
		fmt.Printf(" reload_cpu=%v reload_wall=%v", cpu3-cpu2, wall)
	}
	// What stays: the first pipeline (kept alive below, as a serving
	// gateway keeps it) after a full collection.
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	fmt.Printf(" live_bytes=%d\n", mem.HeapAlloc)
	if heapprof != "" {
		f, err := os.Create(heapprof)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	runtime.KeepAlive(keep)
	return nil
}

// load loads path with lib and returns the model (kept alive by the caller),
// its operation count, and for gateway a function that builds again.
func load(lib, path string) (model any, ops int, reload func() error, err error) {
	switch lib {
	case "gateway":
		return loadGateway(path)
	case "libopenapi":
		s, err := openapi.Load(path)
		if err != nil {
			return nil, 0, nil, err
		}
		return s, len(s.Operations), nil, nil
	case "kin":
		l := openapi3.NewLoader()
		l.IsExternalRefsAllowed = true
		d, err := l.LoadFromFile(path)
		if err != nil {
			return nil, 0, nil, err
		}
		for _, pi := range d.Paths.Map() {
			ops += len(pi.Operations())
		}
		return d, ops, nil, nil
	}
	return nil, 0, nil, fmt.Errorf("unknown -lib %q (want gateway, libopenapi or kin)", lib)
}

// gatewayConfig is the default config with only what has no default set:
// request validation and the response filter are on.
const gatewayConfig = `listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:9"
spec: %q
authz:
  default: public
`

// stages is appended to gatewayConfig: empty (the defaults) unless
// -request=false or -response=false turned a stage off.
var stages string

func stageConfig(request, response bool) string {
	var s string
	if !request {
		s += "request:\n  validate: false\n"
	}
	if !response {
		s += "response:\n  mode: \"off\"\n"
	}
	return s
}

// loadGateway builds the pipeline for a config whose spec is path, as
// `gatehouse validate` does; the returned reload builds it again from the
// same files, as a reload with nothing changed does.
func loadGateway(path string) (any, int, func() error, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, 0, nil, err
	}
	dir, err := os.MkdirTemp("", "specload")
	if err != nil {
		return nil, 0, nil, err
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, gatewayConfig+stages, abs), 0o600); err != nil {
		return nil, 0, nil, err
	}
	// A Server keeps one spec cache for its lifetime; so does this.
	specs := &openapi.Cache{}
	build := func() (*gateway.Pipeline, error) {
		cfg, err := config.Check(cfgPath)
		if err != nil {
			return nil, err
		}
		return gateway.Build(context.Background(), cfg, gateway.Deps{Specs: specs})
	}
	p, err := build()
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, nil, err
	}
	reload := func() error {
		defer os.RemoveAll(dir)
		p2, err := build()
		if err != nil {
			return err
		}
		return errors.Join(p.Close(), p2.Close())
	}
	return p, len(p.Spec().Operations), reload, nil
}

// usage returns this process's CPU time so far (user + system) and its
// peak RSS in KiB.
func usage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }

func pct(part, whole time.Duration) string {
	if whole <= 0 {
		return "-"
	}
	return strconv.Itoa(int(100*part/whole)) + "%"
}
