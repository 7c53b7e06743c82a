package dynamic

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// SQLiTime (GH2053) is time-based SQL injection: see timeProbe. Unit is the
// delay one "sleep 1" stands for (zero: one second); tests use a few
// milliseconds against a handler that sleeps that much per unit.
type SQLiTime struct{ Unit time.Duration }

var _ scan.Check = SQLiTime{}

// Meta implements scan.Check.
func (SQLiTime) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2053", Title: "SQL injection (time-based)", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-89",
		Description: "A database sleep function injected into a parameter delayed the answer by the requested time, repeatedly and in proportion: the input is executed as SQL.",
		Remediation: "Use parameterized queries (placeholders) for every value; never concatenate input into SQL.",
		Fix:         "request: { validate: true, detect_injection: true }",
		Intrusive:   true,
		// Timing is measured alone (concurrent checks would add their load to
		// the delays), and body probes create objects that would change the
		// lists other checks compare.
		Phase: scan.PhaseProbe,
	}
}

// sqlSleeps are appended to a parameter's valid value; %d is the delay.
var sqlSleeps = []string{
	"' AND SLEEP(%d)-- ",                      // MySQL, MariaDB
	"' AND 1=(SELECT 1 FROM PG_SLEEP(%d))-- ", // PostgreSQL
	"'; WAITFOR DELAY '0:0:%d'-- ",            // SQL Server
}

// Run implements scan.Check.
func (c SQLiTime) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	return timeProbe(ctx, t, c.Unit, sqlSleeps, report)
}

// Delays used by timeProbe, in units: the payload with 0 must be fast, with
// 2 and 4 the answer must be late by at least 80% of the requested time, and
// 4 later than 2 by at least one unit.
const (
	delayLow, delayHigh = 2, 4
	delaySlack          = 0.8
)

// maxTimePoints bounds the inputs the time-based probes try per
// operation (in the order of points: path, query, headers, body, nested
// body), so an operation costs at most 3 + maxTimePoints × payloads
// requests when nothing is slow.
const maxTimePoints = 8

// timeProbe injects each payload template (with %d the delay in units) into
// the free-form string inputs (points: path, query and declared header
// parameters, top-level and nested body strings, no enum, not read-only)
// of every injectable operation but the login whose valid request
// succeeds, one input at a time with the rest of the request valid. PUT
// and PATCH are aimed at the actor's own object (prepareInjection).
// A finding needs: a baseline (3 valid requests per operation) whose
// slowest answer is B; payload(2) late by ≥ 0.8×2 units over B; payload(4)
// late by ≥ 0.8×4 units and ≥ 1 unit more than payload(2); payload(0) not
// late by a unit; and payload(2) late again. Inputs stop at their first
// finding.
func timeProbe(ctx context.Context, t *scan.Target, unit time.Duration, payloads []string, report func(scan.Finding)) error {
	if unit <= 0 {
		unit = time.Second
	}
	for _, op := range injectable(t) {
		if scan.IsLogin(op) {
			continue // a probe there is a failed login: the login checks' phase
		}
		id, p0, ok := prepareInjection(t, op)
		if !ok {
			continue
		}
		var pts []point
		for _, pt := range points(p0) {
			if (pt.schema == nil || freeString(pt.schema, false)) && len(pts) < maxTimePoints {
				pts = append(pts, pt)
			}
		}
		if len(pts) == 0 {
			continue
		}
		send := func(pt *point, v string) (*scan.Exchange, error) {
			p := fresh(t, p0, id)
			if pt != nil {
				pt.set(p, pt.get(p)+v)
			}
			ex, err := t.Send(ctx, p, id)
			if err != nil {
				return nil, stopErr(ctx, err)
			}
			return ex, nil
		}
		var base time.Duration
		for range 3 {
			ex, err := send(nil, "")
			if err != nil {
				return err
			}
			if ex == nil || !ex.OK() {
				ok = false
				break
			}
			base = max(base, ex.Duration)
		}
		if !ok {
			continue
		}
		late := func(d time.Duration, n int) bool { return d-base >= time.Duration(float64(n)*delaySlack*float64(unit)) }
		for _, sp := range pts {
			for _, tmpl := range payloads {
				var got [4]time.Duration
				var last *scan.Exchange
				steps := []int{delayLow, delayHigh, 0, delayLow}
				found := true
				for i, n := range steps {
					ex, err := send(&sp, fmt.Sprintf(tmpl, n))
					if err != nil {
						return err
					}
					if ex == nil {
						found = false
						break
					}
					got[i] = ex.Duration
					switch {
					case n > 0 && !late(ex.Duration, n),
						i == 1 && ex.Duration-got[0] < unit,
						n == 0 && late(ex.Duration, 1):
						found = false
					}
					if !found {
						break
					}
					if i == 1 {
						last = ex
					}
				}
				if !found {
					continue
				}
				report(scan.Finding{
					Param: sp.String(),
					Key:   tmpl,
					Detail: fmt.Sprintf("%s %s: appending %q to %s delayed the answer in proportion: baseline ≤ %v; sleep %d: %v, %v; sleep %d: %v; sleep 0: %v (unit %v).",
						op.Method, op.Template, fmt.Sprintf(tmpl, delayHigh), sp, base.Round(time.Millisecond), delayLow, got[0].Round(time.Millisecond), got[3].Round(time.Millisecond), delayHigh, got[1].Round(time.Millisecond), got[2].Round(time.Millisecond), unit),
				}.At(op).With(last, fmt.Sprintf("sleep %d", delayHigh)))
				break
			}
		}
	}
	return nil
}
