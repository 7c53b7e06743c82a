package scan_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// limited is an API that rate limits: every path answers with the
// status list given for it in turn (the last one repeats), 429s with the
// Retry-After of its header.
type limited struct {
	answers map[string][]int
	after   string // Retry-After on throttled answers ("" = none)
	seen    map[string]*atomic.Int64
}

func newLimited(after string, answers map[string][]int) *limited {
	l := &limited{answers: answers, after: after, seen: map[string]*atomic.Int64{}}
	for p := range answers {
		l.seen[p] = new(atomic.Int64)
	}
	return l
}

func (l *limited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	list, ok := l.answers[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	n := l.seen[r.URL.Path].Add(1) - 1
	code := list[min(int(n), len(list)-1)]
	if (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) && l.after != "" {
		w.Header().Set("Retry-After", l.after)
	}
	w.WriteHeader(code)
}

// prober is a check that sends one request to each of its paths, each
// labelled with the operation of the same name, and reports whether the
// answers it got were throttled.
type prober struct {
	id     string
	paths  []string
	keep   bool
	got    map[string]int
	method string // "" = GET
}

func (p prober) Meta() scan.Meta { return scan.Meta{ID: p.id, Title: p.id, Severity: scan.High} }

func (p prober) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	if p.keep {
		ctx = scan.KeepThrottled(ctx)
	}
	for _, path := range p.paths {
		m := p.method
		if m == "" {
			m = http.MethodGet
		}
		ex, err := t.Client.Do(ctx, &scan.Request{Method: m, URL: t.URL(path), Op: strings.TrimPrefix(path, "/")})
		if err != nil {
			return err
		}
		p.got[path] = ex.Status
	}
	return nil
}

const throttleSpec = `openapi: 3.1.0
info: { title: t, version: "1" }
paths:
  /a: { get: { operationId: a, responses: { "200": { description: ok } } } }
  /b: { get: { operationId: b, responses: { "200": { description: ok } } } }
  /c: { get: { operationId: c, responses: { "200": { description: ok } } } }
  /reset: { post: { operationId: reset, summary: Reset the database, responses: { "200": { description: ok } } } }
`

func runProber(t *testing.T, api *limited, o scan.ClientOptions, p prober) *scan.Result {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(throttleSpec), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(o), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{p}, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func coverageOf(t *testing.T, res *scan.Result, op string) scan.OpCoverage {
	t.Helper()
	for _, oc := range res.Checks[0].Coverage {
		if oc.Operation == op {
			return oc
		}
	}
	t.Fatalf("no coverage entry for %q in %+v", op, res.Checks[0].Coverage)
	return scan.OpCoverage{}
}

// A probe answered 429 is sent again after Retry-After and judged on the
// answer it then gets: the API's real answer, and the operation tested.
func TestThrottledProbeIsResent(t *testing.T) {
	api := newLimited("0", map[string][]int{"/a": {429, 429, 500}, "/b": {503, 200}})
	p := prober{id: "GHT1", paths: []string{"/a", "/b"}, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	if p.got["/a"] != 500 || p.got["/b"] != 200 {
		t.Fatalf("the check saw %v, want the answers after the limit cleared (/a 500, /b 200)", p.got)
	}
	if a, b := api.seen["/a"].Load(), api.seen["/b"].Load(); a != 3 || b != 2 {
		t.Errorf("the API got /a %d and /b %d times, want 3 and 2 (two resends of /a, one of /b)", a, b)
	}
	for _, op := range []string{"a", "b"} {
		if oc := coverageOf(t, res, op); oc.Status != scan.CoverTested || oc.Throttled != 0 || oc.Reason != "" {
			t.Errorf("coverage of %s = %+v, want tested, nothing throttled", op, oc)
		}
	}
	if c := res.Checks[0]; c.Status != scan.CoverTested || c.Reason != "" {
		t.Errorf("check status = %q %q, want tested without reason", c.Status, c.Reason)
	}
}

// A probe still throttled after the retries tested nothing: the operation
// is skipped as rate limited, never "tested"; the check says it is
// incomplete when other operations were tested.
func TestThrottledProbeIsNotCoverage(t *testing.T) {
	api := newLimited("0", map[string][]int{"/a": {429}, "/b": {200}, "/c": {503}})
	p := prober{id: "GHT2", paths: []string{"/a", "/b", "/c"}, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	if got := api.seen["/a"].Load(); got != 3 {
		t.Errorf("/a was sent %d times, want 3 (two resends)", got)
	}
	for _, op := range []string{"a", "c"} {
		oc := coverageOf(t, res, op)
		if oc.Status != scan.CoverSkipped || oc.Throttled != 1 || !strings.Contains(oc.Reason, "rate limited") {
			t.Errorf("coverage of %s = %+v, want skipped: rate limited, 1 throttled", op, oc)
		}
	}
	if oc := coverageOf(t, res, "b"); oc.Status != scan.CoverTested {
		t.Errorf("coverage of b = %+v, want tested", oc)
	}
	c := res.Checks[0]
	if c.Status != scan.CoverTested || !strings.Contains(c.Reason, "incomplete: 2 probes rate limited") {
		t.Errorf("check status = %q %q, want tested, incomplete: 2 probes rate limited", c.Status, c.Reason)
	}
	if line := scan.CoverageLine(c); !strings.Contains(line, "2 skipped: rate limited") || !strings.Contains(line, "incomplete") {
		t.Errorf("coverage line %q does not say 2 operations were rate limited", line)
	}

	// Every operation throttled: the check did not test anything.
	api = newLimited("0", map[string][]int{"/a": {429}})
	res = runProber(t, api, scan.ClientOptions{}, prober{id: "GHT3", paths: []string{"/a"}, got: map[string]int{}})
	if c := res.Checks[0]; c.Status != "skipped" {
		t.Errorf("check with every probe throttled: status %q %q, want skipped", c.Status, c.Reason)
	}
	if u := res.Untested(scan.Info); len(u) != 1 {
		t.Errorf("Untested = %d checks, want 1: --fail-on-skipped must see a check whose probes were all throttled", len(u))
	}
}

// Some probes of an operation throttled, some not: tested, partly.
func TestThrottledProbePartly(t *testing.T) {
	api := newLimited("0", map[string][]int{"/a": {200, 429}})
	p := prober{id: "GHT4", paths: []string{"/a", "/a"}, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	oc := coverageOf(t, res, "a")
	if oc.Status != scan.CoverTested || oc.Throttled != 1 || !strings.HasPrefix(oc.Reason, "partly: 1 of 2") {
		t.Errorf("coverage = %+v, want tested, partly: 1 of 2 answers rate limited", oc)
	}
}

// The wait is bounded: a Retry-After beyond ThrottleWait is not waited for,
// and ThrottleWait < 0 never resends.
func TestThrottleWaitBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string
		o     scan.ClientOptions
	}{
		{"retry-after over the bound", "60", scan.ClientOptions{}},
		{"http date over the bound", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), scan.ClientOptions{}},
		{"resending off", "0", scan.ClientOptions{ThrottleWait: -1}},
		{"two waits over the bound", "1", scan.ClientOptions{ThrottleWait: 1500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newLimited(tc.after, map[string][]int{"/a": {429}})
			start := time.Now()
			res := runProber(t, api, tc.o, prober{id: "GHT5", paths: []string{"/a"}, got: map[string]int{}})
			want := int64(1)
			if tc.name == "two waits over the bound" {
				want = 2 // one wait of 1s fits in 1.5s, the second does not
			}
			if got := api.seen["/a"].Load(); got != want {
				t.Errorf("sent %d times, want %d", got, want)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v: waited beyond the bound", el)
			}
			if oc := coverageOf(t, res, "a"); oc.Status != scan.CoverSkipped {
				t.Errorf("coverage = %+v, want skipped: rate limited", oc)
			}
		})
	}
}

// A check that measures the limit itself gets the 429 as it is, once, and
// its 429s count as tested.
func TestKeepThrottled(t *testing.T) {
	api := newLimited("0", map[string][]int{"/a": {429}})
	p := prober{id: "GHT6", paths: []string{"/a"}, keep: true, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	if n := api.seen["/a"].Load(); n != 1 || p.got["/a"] != 429 {
		t.Errorf("sent %d times, check saw %d; want once, 429", n, p.got["/a"])
	}
	if oc := coverageOf(t, res, "a"); oc.Status != scan.CoverTested || oc.Throttled != 0 {
		t.Errorf("coverage = %+v, want tested", oc)
	}
}

// A 503 without Retry-After is the API's error, judged by the checks,
// not a rate limit.
func TestUnavailableWithoutRetryAfterIsAnAnswer(t *testing.T) {
	api := newLimited("", map[string][]int{"/a": {503, 200}})
	p := prober{id: "GHT7", paths: []string{"/a"}, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	if n := api.seen["/a"].Load(); n != 1 || p.got["/a"] != 503 {
		t.Errorf("sent %d times, check saw %d; want once, 503", n, p.got["/a"])
	}
	if oc := coverageOf(t, res, "a"); oc.Status != scan.CoverTested {
		t.Errorf("coverage = %+v, want tested", oc)
	}
}

// The wait ends with the scan: a cancelled context stops it at once.
func TestThrottleWaitCancelled(t *testing.T) {
	srv := httptest.NewServer(newLimited("9", map[string][]int{"/a": {429}}))
	defer srv.Close()
	c := scan.NewClient(scan.ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, &scan.Request{Method: http.MethodGet, URL: srv.URL + "/a"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do = %v, want the context's deadline", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Do returned after %v, want right after the deadline", el)
	}
}

// The waiting of the whole scan is bounded too: once the waits add up to
// ThrottleBudget, throttled probes are counted, not resent.
func TestThrottleBudget(t *testing.T) {
	api := newLimited("1", map[string][]int{"/a": {429}, "/b": {429}, "/c": {429}})
	p := prober{id: "GHT8", paths: []string{"/a", "/b", "/c"}, got: map[string]int{}}
	start := time.Now()
	res := runProber(t, api, scan.ClientOptions{ThrottleBudget: 1500 * time.Millisecond}, p)
	sent := api.seen["/a"].Load() + api.seen["/b"].Load() + api.seen["/c"].Load()
	if sent != 4 {
		t.Errorf("sent %d requests, want 4: one wait of 1s fits in the 1.5s budget, then none", sent)
	}
	if res.ThrottleWaited != time.Second {
		t.Errorf("ThrottleWaited = %v, want 1s", res.ThrottleWaited)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v: waited beyond the budget", el)
	}
	for _, op := range []string{"a", "b", "c"} {
		if oc := coverageOf(t, res, op); oc.Status != scan.CoverSkipped {
			t.Errorf("coverage of %s = %+v, want skipped: rate limited", op, oc)
		}
	}
}

// A destructive operation is sent at most once (the damage guard): a
// throttled answer to it is not resent, and it counts as not tested.
func TestThrottledDestructiveNotResent(t *testing.T) {
	api := newLimited("0", map[string][]int{"/reset": {429, 200}})
	p := prober{id: "GHT9", paths: []string{"/reset"}, method: http.MethodPost, got: map[string]int{}}
	res := runProber(t, api, scan.ClientOptions{}, p)
	if n := api.seen["/reset"].Load(); n != 1 || p.got["/reset"] != 429 {
		t.Errorf("reset sent %d times, check saw %d; want once, 429", n, p.got["/reset"])
	}
	if oc := coverageOf(t, res, "reset"); oc.Status != scan.CoverSkipped || oc.Throttled != 1 {
		t.Errorf("coverage = %+v, want skipped: rate limited", oc)
	}
}
