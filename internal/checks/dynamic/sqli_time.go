package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/openapi"
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

// timeProbe injects each payload template (with %d the delay in units) into
// string query parameters of GET operations whose valid request succeeds.
// A finding needs: a baseline (3 valid requests) whose slowest answer is B;
// payload(2) late by ≥ 0.8×2 units over B; payload(4) late by ≥ 0.8×4 units
// and ≥ 1 unit more than payload(2); payload(0) not late by a unit; and
// payload(2) late again. Parameters stop at their first finding.
func timeProbe(ctx context.Context, t *scan.Target, unit time.Duration, payloads []string, report func(scan.Finding)) error {
	if unit <= 0 {
		unit = time.Second
	}
	for _, op := range ops(t, func(op *openapi.Operation) bool { return op.Method == http.MethodGet }) {
		for _, prm := range op.Params {
			if prm == nil || !strings.EqualFold(prm.In, "query") {
				continue
			}
			if s := scan.SchemaOf(prm.Schema); s == nil || !hasType(s, "string") || len(s.Enum) > 0 {
				continue
			}
			id := actor(t, op)
			send := func(v *string) (*scan.Exchange, error) {
				p := t.Prepare(op, id)
				if v != nil {
					p.Query.Set(prm.Name, p.Query.Get(prm.Name)+*v)
				}
				ex, err := t.Send(ctx, p, id)
				if err != nil {
					return nil, stopErr(ctx, err)
				}
				return ex, nil
			}
			var base time.Duration
			ok := true
			for range 3 {
				ex, err := send(nil)
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
			for _, tmpl := range payloads {
				var got [4]time.Duration
				var last *scan.Exchange
				steps := []int{delayLow, delayHigh, 0, delayLow}
				found := true
				for i, n := range steps {
					v := fmt.Sprintf(tmpl, n)
					ex, err := send(&v)
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
					Param: "query " + prm.Name,
					Key:   tmpl,
					Detail: fmt.Sprintf("%s %s: appending %q to query %s delayed the answer in proportion: baseline ≤ %v; sleep %d: %v, %v; sleep %d: %v; sleep 0: %v (unit %v).",
						op.Method, op.Template, fmt.Sprintf(tmpl, delayHigh), prm.Name, base.Round(time.Millisecond), delayLow, got[0].Round(time.Millisecond), got[3].Round(time.Millisecond), delayHigh, got[1].Round(time.Millisecond), got[2].Round(time.Millisecond), unit),
				}.At(op).With(last, fmt.Sprintf("sleep %d", delayHigh)))
				break
			}
		}
	}
	return nil
}
