package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// ReadBurst is how many requests GH2032 sends to one cheap read by default
// (the same bound as the login burst, LoginBurst).
const ReadBurst = LoginBurst

// ReadBurstMinRate is the slowest client rate (--rate, requests per second)
// at which a burst still says something: an API limiting each client to,
// say, 20 reads per second never throttles a scanner sending fewer, so
// below this GH2032 skips instead of reporting a missing limit it could not
// have seen.
const ReadBurstMinRate = 20

// ReadRateLimit (GH2032) picks one cheap, safe read (a GET that is not
// login, logout, administrative or a health probe; operations without path
// parameters first, then ones filled with harvested IDs; as a regular
// identity when the operation needs authentication) whose valid request
// succeeds, and sends it Burst times (4 in flight). When every answer is a
// 2xx and none is a 429 or carries a RateLimit, RateLimit-Policy,
// X-RateLimit-* or Retry-After header, the API does not limit reads: one
// client can scrape it or exhaust it. The statuses, the elapsed time and
// the achieved rate are the evidence.
//
// It skips (CheckRun.Skipped) when --rate is below ReadBurstMinRate or the
// budget cannot pay for the whole burst, rather than guess.
type ReadRateLimit struct {
	// Burst is the number of requests (0 = ReadBurst).
	Burst int
}

var _ scan.Check = ReadRateLimit{}

// Meta implements scan.Check.
func (ReadRateLimit) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2032", Title: "No rate limit on a cheap read", Category: "ratelimit",
		Severity: scan.Low, OWASP: scan.API4Resource, CWE: "CWE-770",
		Description: "A burst of identical read requests was served in full without any throttling or rate-limit signal: one client can scrape the data or exhaust the API.",
		Remediation: "Limit requests per client (user, API key or address) on every operation, answer 429 with Retry-After, and advertise the limit with RateLimit / RateLimit-Policy headers.",
		Intrusive:   true,
		Phase:       scan.PhaseBurst,
	}
}

var healthRe = regexp.MustCompile(`(?i)health|ready|readiness|live|liveness|ping|status|metrics|version|openapi|swagger|docs`)

// cheapReads returns the candidate operations for the burst, best first.
func cheapReads(t *scan.Target) []*openapi.Operation {
	cands := ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodGet && !scan.IsLogin(op) && !scan.IsLogout(op) && !scan.LooksAdmin(op) &&
			!healthRe.MatchString(op.Template) && !healthRe.MatchString(op.ID)
	})
	rank := func(op *openapi.Operation) int {
		r := 0
		if strings.Contains(op.Template, "{") {
			r += 2
		}
		if !t.RequiresAuth(op) {
			r++ // a business read behind authentication first: per-user limits show there
		}
		return r
	}
	sort.SliceStable(cands, func(i, j int) bool { return rank(cands[i]) < rank(cands[j]) })
	return cands
}

// Run implements scan.Check.
func (c ReadRateLimit) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	ctx = scan.KeepThrottled(ctx) // the 429 is what this check looks for
	n := c.Burst
	if n <= 0 {
		n = ReadBurst
	}
	if r := t.Client.Rate(); r > 0 && r < ReadBurstMinRate {
		return scan.Skip("--rate %g caps the burst below %d requests/s: a per-client limit above that rate could not show", r, ReadBurstMinRate)
	}
	var (
		op   *openapi.Operation
		id   *scan.Identity
		base *scan.Exchange
	)
	for _, cand := range cheapReads(t) {
		who := actor(t, cand)
		ex, err := t.Baseline(ctx, cand, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if ex == nil || !granted(ex) {
			continue
		}
		if rateLimited(ex) {
			// The API advertises a limit on its reads already: a pass.
			t.MarkCoverage(ctx, cand.ID, scan.CoverTested, "the answer advertises a rate limit (RateLimit, X-RateLimit-* or Retry-After header)")
			return nil
		}
		op, id, base = cand, who, ex
		break
	}
	if op == nil {
		if len(cheapReads(t)) > 0 {
			return scan.Skip("no cheap read (GET without a body) answered 2xx to any identity: no burst to judge")
		}
		return nil
	}
	if left := t.Client.Remaining(); left >= 0 && left < n {
		return scan.Skip("the budget leaves %d requests, the burst needs %d", left, n)
	}
	p := t.Prepare(op, id)
	var (
		mu      sync.Mutex
		counts  = map[int]int{}
		last    *scan.Exchange
		sent    int
		limited atomic.Bool
		stop    error
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range min(4, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !limited.Load() && next.Add(1) <= int64(n) {
				ex, err := t.Send(ctx, p, id)
				mu.Lock()
				if err != nil {
					if e := stopErr(ctx, err); e != nil && stop == nil {
						stop = e
					}
					limited.Store(true) // end the burst: no verdict without every answer
					mu.Unlock()
					return
				}
				sent++
				counts[ex.Status]++
				last = ex
				mu.Unlock()
				if rateLimited(ex) {
					limited.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if stop != nil {
		return stop
	}
	if limited.Load() || sent < n || !allOK(counts) {
		return nil
	}
	codes := make([]int, 0, len(counts))
	for s := range counts {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var parts []string
	for _, s := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s, counts[s]))
	}
	who, key := "anonymously", "ip"
	if id != nil {
		who, key = "as "+id.Name, "user"
	}
	perSec := float64(sent) / max(elapsed.Seconds(), 1e-3)
	report(scan.Finding{
		Detail: fmt.Sprintf("%d requests to %s %s %s in %v (~%.0f/s): statuses %s; no 429, no RateLimit, RateLimit-Policy, X-RateLimit-* or Retry-After header.",
			sent, op.Method, op.Template, who, elapsed.Round(time.Millisecond), perSec, join(parts)),
		Fix: fmt.Sprintf("rate_limits: { limits: [ { name: reads, key: %s, rate: \"50/s\", burst: 100 } ] }   # allowed answers carry RateLimit headers", key),
	}.At(op).With(base, "valid request").With(last, fmt.Sprintf("last of %d requests", sent)))
	return nil
}

// allOK reports whether every status counted is 2xx.
func allOK(counts map[int]int) bool {
	for s := range counts {
		if s < 200 || s > 299 {
			return false
		}
	}
	return true
}
