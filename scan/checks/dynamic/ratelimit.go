package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// LoginBurst is how many failed logins GH2030 sends by default.
const LoginBurst = 30

// LoginRateLimit (GH2030) sends a bounded burst of failed logins (an unknown
// user, a wrong password) to each login operation; no 429 and no
// RateLimit-*/X-RateLimit-*/Retry-After header within the burst is a
// finding, with the counts as evidence.
type LoginRateLimit struct {
	// Burst is the number of failed logins (0 = LoginBurst).
	Burst int
}

var _ scan.Check = LoginRateLimit{}

// Meta implements scan.Check.
func (LoginRateLimit) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2030", Title: "No rate limit on login", Category: "ratelimit",
		Severity: scan.Medium, OWASP: scan.API4Resource, CWE: "CWE-307",
		Description: "The login operation accepted a burst of failed attempts without throttling: passwords can be brute-forced and credentials stuffed.",
		Remediation: "Limit login attempts per client and per account (a few per minute), answer 429 with Retry-After.",
		Intrusive:   true,
		Phase:       scan.PhaseBurst,
	}
}

func rateLimited(ex *scan.Exchange) bool {
	if ex.Status == http.StatusTooManyRequests {
		return true
	}
	for k := range ex.Header {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "ratelimit") || strings.HasPrefix(l, "x-ratelimit") || l == "retry-after" {
			return true
		}
	}
	return false
}

// Run implements scan.Check.
func (c LoginRateLimit) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	ctx = scan.KeepThrottled(ctx) // the 429 is what this check looks for
	burst := c.Burst
	if burst <= 0 {
		burst = LoginBurst
	}
	for _, op := range ops(t, func(op *openapi.Operation) bool { return scan.IsLogin(op) && op.Method == http.MethodPost }) {
		p := t.Prepare(op, nil)
		if b := p.BodyMap(); b != nil {
			for k := range b {
				l := strings.ToLower(k)
				switch {
				case strings.Contains(l, "pass"):
					b[k] = "ghscan-wrong-password"
				case strings.Contains(l, "user") || strings.Contains(l, "name") || strings.Contains(l, "mail") || strings.Contains(l, "login"):
					b[k] = "ghscan-ratelimit-probe"
				}
			}
		}
		counts := map[int]int{}
		var last *scan.Exchange
		limited := false
		sent := 0
		for range burst {
			ex, err := t.Send(ctx, p, nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			sent++
			counts[ex.Status]++
			last = ex
			if rateLimited(ex) {
				limited = true
				break
			}
		}
		if limited || last == nil || sent < burst || counts[http.StatusInternalServerError]*2 > sent {
			continue
		}
		codes := make([]int, 0, len(counts))
		for c := range counts {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d×%d", c, counts[c]))
		}
		report(scan.Finding{
			Detail: fmt.Sprintf("%d failed logins in a burst to %s %s: statuses %s; no 429, no RateLimit or Retry-After header.", sent, op.Method, op.Template, join(parts)),
			Fix:    fmt.Sprintf("rate_limits: { limits: [ { name: login, operations: [%s], key: ip, rate: \"5/min\", burst: 5 } ] }", yamlQuote(op.ID)),
		}.At(op).With(last, fmt.Sprintf("last of %d attempts", sent)))
	}
	return nil
}
