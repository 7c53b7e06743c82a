// Command report turns bench/run's raw results (one TSV line per round,
// method and target) into the comparison table: per method and target the
// request rate (all rounds' requests over all rounds' time), the median
// over rounds of each latency percentile, the proxy's CPU per request (all
// rounds' CPU ticks over all rounds' requests) and its largest RSS, each
// beside its ratio to direct and to nginx (CPU also to the two Go
// baselines, plain and oas-jwt).
//
//	report -ticks 100 results.tsv
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// row is one measurement: a wrk run against one target.
type row struct {
	method, target               string
	requests, durUS, errs        int64
	p50, p99, p999, ticks, rssKB int64
}

// stat is a method and target's aggregate over rounds.
type stat struct {
	method, target string
	rps            float64
	p50, p99, p999 float64 // ms, median over rounds
	cpuUS          float64 // per request
	rssMiB         float64 // largest
	errs, requests int64
	rounds         int
}

func parse(r io.Reader) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if line == 1 && len(f) > 0 && f[0] == "round" {
			continue
		}
		if len(f) != 11 {
			return nil, fmt.Errorf("line %d: %d fields, want 11", line, len(f))
		}
		var n [8]int64
		for i := range n {
			v, err := strconv.ParseInt(f[3+i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: field %d: %w", line, 4+i, err)
			}
			n[i] = v
		}
		rows = append(rows, row{method: f[1], target: f[2], requests: n[0], durUS: n[1], errs: n[2],
			p50: n[3], p99: n[4], p999: n[5], ticks: n[6], rssKB: n[7]})
	}
	return rows, sc.Err()
}

func median(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

// targetOrder is the table's row order; other targets follow in first-seen order.
var targetOrder = []string{"direct", "nginx", "plain", "oas-jwt", "gh-pass", "gh-full", "gh-redis"}

// aggregate groups rows by method and target.
func aggregate(rows []row, ticksPerSec int) []stat {
	type acc struct {
		req, dur, ticks, errs, rss int64
		p50, p99, p999             []int64
		n                          int
	}
	var order []string
	m := map[string]*acc{}
	for _, r := range rows {
		k := r.method + "\x00" + r.target
		a := m[k]
		if a == nil {
			a = &acc{}
			m[k] = a
			order = append(order, k)
		}
		a.req += r.requests
		a.dur += r.durUS
		a.ticks += r.ticks
		a.errs += r.errs
		a.rss = max(a.rss, r.rssKB)
		a.p50, a.p99, a.p999 = append(a.p50, r.p50), append(a.p99, r.p99), append(a.p999, r.p999)
		a.n++
	}
	rank := func(k string) int {
		_, t, _ := strings.Cut(k, "\x00")
		if i := slices.Index(targetOrder, t); i >= 0 {
			return i
		}
		return len(targetOrder)
	}
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	var out []stat
	for _, k := range order {
		a := m[k]
		method, target, _ := strings.Cut(k, "\x00")
		s := stat{method: method, target: target, errs: a.errs, requests: a.req, rounds: a.n,
			p50: median(a.p50) / 1000, p99: median(a.p99) / 1000, p999: median(a.p999) / 1000,
			rssMiB: float64(a.rss) / 1024}
		if a.dur > 0 {
			s.rps = float64(a.req) / (float64(a.dur) / 1e6)
		}
		if a.req > 0 && ticksPerSec > 0 {
			s.cpuUS = float64(a.ticks) / float64(ticksPerSec) * 1e6 / float64(a.req)
		}
		out = append(out, s)
	}
	return out
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// write prints one markdown table per method.
func write(w io.Writer, stats []stat) {
	var methods []string
	for _, s := range stats {
		if !slices.Contains(methods, s.method) {
			methods = append(methods, s.method)
		}
	}
	for _, method := range methods {
		by := map[string]stat{}
		for _, s := range stats {
			if s.method == method {
				by[s.target] = s
			}
		}
		d, n, pl, oas := by["direct"], by["nginx"], by["plain"], by["oas-jwt"]
		fmt.Fprintf(w, "\n%s\n\n", method)
		fmt.Fprintln(w, "| target | req/s | ×direct | ×nginx | p50 ms | p99 ms | p99.9 ms | p99 ×direct | p99 ×nginx | CPU µs/req | ×nginx | ×plain | ×oas-jwt | RSS MiB | ×nginx | errors |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, s := range stats {
			if s.method != method {
				continue
			}
			cpu, cpuN, cpuP, cpuO, rss, rssN := "-", "-", "-", "-", "-", "-"
			if s.target != "direct" {
				cpu, cpuN, cpuP, cpuO = fmt.Sprintf("%.1f", s.cpuUS), ratio(s.cpuUS, n.cpuUS), ratio(s.cpuUS, pl.cpuUS), ratio(s.cpuUS, oas.cpuUS)
				rss, rssN = fmt.Sprintf("%.1f", s.rssMiB), ratio(s.rssMiB, n.rssMiB)
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n",
				s.target, s.rps, ratio(s.rps, d.rps), ratio(s.rps, n.rps), s.p50, s.p99, s.p999,
				ratio(s.p99, d.p99), ratio(s.p99, n.p99), cpu, cpuN, cpuP, cpuO, rss, rssN, s.errs)
		}
	}
}

func main() {
	ticks := flag.Int("ticks", 100, "clock ticks per second (getconf CLK_TCK)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: report [-ticks N] results.tsv")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *ticks, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(path string, ticks int, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return errors.New("no results")
	}
	write(w, aggregate(rows, ticks))
	return nil
}
