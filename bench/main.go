// Command bench is a small closed-loop HTTP load generator: N concurrent
// clients send GET requests to one URL for a fixed duration, then it prints
// requests per second, the error count and latency percentiles.
//
//	go run ./bench -url http://127.0.0.1:8080/users/1 -c 32 -d 10s
//
// It targets loopback addresses only unless -allow-remote is given: it is
// meant for comparing an upstream directly with the same upstream behind
// gatehouse (or nginx) on one machine. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

type result struct {
	lat    []time.Duration
	errs   int
	non2xx int
}

func main() {
	target := flag.String("url", "", "URL to GET (required)")
	conc := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "test duration")
	maxReq := flag.Int("n", 0, "stop after this many requests in total (0: no limit)")
	hdr := flag.String("H", "", `one extra request header, "Name: value"`)
	allowRemote := flag.Bool("allow-remote", false, "allow a non-loopback target")
	flag.Parse()
	if err := run(*target, *conc, *dur, *maxReq, *hdr, *allowRemote); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func run(target string, conc int, dur time.Duration, maxReq int, hdr string, allowRemote bool) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url must be an absolute URL")
	}
	if !allowRemote && !loopback(u.Hostname()) {
		return fmt.Errorf("refusing non-loopback target %q (use -allow-remote for your own test hosts)", u.Hostname())
	}
	if conc < 1 || dur <= 0 {
		return fmt.Errorf("-c and -d must be positive")
	}
	var hName, hValue string
	if hdr != "" {
		n, v, ok := cut(hdr)
		if !ok {
			return fmt.Errorf(`-H must look like "Name: value"`)
		}
		hName, hValue = n, v
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var (
		mu    sync.Mutex
		total result
		sent  int
		wg    sync.WaitGroup
	)
	take := func() bool {
		if maxReq <= 0 {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if sent >= maxReq {
			return false
		}
		sent++
		return true
	}
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r result
			for ctx.Err() == nil && take() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
				if hName != "" {
					req.Header.Set(hName, hValue)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						r.errs++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				r.lat = append(r.lat, time.Since(t0))
				if res.StatusCode/100 != 2 {
					r.non2xx++
				}
			}
			mu.Lock()
			total.lat = append(total.lat, r.lat...)
			total.errs += r.errs
			total.non2xx += r.non2xx
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(total.lat)
	pct := func(p float64) time.Duration {
		if len(total.lat) == 0 {
			return 0
		}
		return total.lat[int(p*float64(len(total.lat)-1))]
	}
	fmt.Printf("url=%s clients=%d duration=%s\n", target, conc, elapsed.Round(time.Millisecond))
	fmt.Printf("requests=%d errors=%d non_2xx=%d rps=%.0f\n", len(total.lat), total.errs, total.non2xx, float64(len(total.lat))/elapsed.Seconds())
	fmt.Printf("latency p50=%s p90=%s p99=%s max=%s\n", pct(.5), pct(.9), pct(.99), pct(1))
	return nil
}

func cut(h string) (string, string, bool) {
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			n, v := h[:i], h[i+1:]
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			return n, v, n != ""
		}
	}
	return "", "", false
}
