package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const results = "round\tmethod\ttarget\trequests\tduration_us\terrors\tp50_us\tp99_us\tp999_us\tcpu_ticks\trss_kb\n" +
	"1\tGET\tdirect\t40000\t2000000\t0\t500\t2000\t3000\t0\t8192\n" +
	"1\tGET\tnginx\t20000\t2000000\t0\t1000\t4000\t5000\t100\t13312\n" +
	"1\tGET\tplain\t10000\t2000000\t0\t2000\t8000\t9000\t150\t14336\n" +
	"2\tGET\tdirect\t20000\t2000000\t0\t700\t1000\t4000\t0\t8192\n" +
	"2\tGET\tnginx\t20000\t2000000\t0\t1200\t6000\t7000\t100\t12288\n" +
	"2\tGET\tplain\t10000\t2000000\t2\t1800\t7000\t8000\t150\t15360\n" +
	"3\tGET\tdirect\t30000\t2000000\t0\t600\t3000\t5000\t0\t8192\n" +
	"1\tGET\toas-jwt\t12000\t2000000\t0\t1500\t6000\t7000\t120\t20480\n"

func TestAggregate(t *testing.T) {
	rows, err := parse(strings.NewReader(results))
	if err != nil {
		t.Fatal(err)
	}
	st := aggregate(rows, 100)
	if len(st) != 4 {
		t.Fatalf("aggregate: %d stats, want 4", len(st))
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	d, n, p := st[0], st[1], st[2]
	near("direct rps", d.rps, 90000.0/6)            // all requests over all time
	near("direct p50", d.p50, 0.6)                  // median of 500, 700, 600 µs in ms
	near("nginx p99", n.p99, 5)                     // even count: mean of the middle two
	near("nginx cpu", n.cpuUS, 200.0/100*1e6/40000) // 2 s of CPU over 40000 requests
	near("plain cpu", p.cpuUS, 3.0*1e6/20000)
	near("plain rss", p.rssMiB, 15)
	if p.errs != 2 || p.rounds != 2 {
		t.Errorf("plain errs, rounds = %d, %d, want 2, 2", p.errs, p.rounds)
	}
	var out bytes.Buffer
	write(&out, st)
	for _, want := range []string{
		"| nginx | 10000 | 0.67 | 1.00 |", // 20000/2 s; direct 15000
		"| plain | 5000 | 0.33 | 0.50 |",
		"| 150.0 | 3.00 | 1.00 | 1.50 | 15.0 | 1.15 | 2 |", // plain: CPU, ×nginx, ×plain, ×oas-jwt, RSS, ×nginx, errors
		"| oas-jwt | 6000 | 0.40 | 0.60 |",                 // after plain in the table's order
		"| 100.0 | 2.00 | 0.67 | 1.00 | 20.0 | 1.54 | 0 |", // oas-jwt: 1.2 s over 12000 requests
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"short line": "1\tGET\tdirect\t1\n",
		"not number": "1\tGET\tdirect\tx\t1\t0\t1\t1\t1\t0\t1\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parse(strings.NewReader(in)); err == nil {
				t.Errorf("parse(%q) = nil error, want one", in)
			}
		})
	}
}
