package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
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

// strPoint is a string input a probe can replace: a query parameter of a
// GET, or a top-level string property of a POST's JSON body.
type strPoint struct {
	op       *openapi.Operation
	in, name string
}

func (sp strPoint) String() string { return sp.in + " " + sp.name }

// get returns the point's valid value in p ("" when absent).
func (sp strPoint) get(p *scan.Prepared) string {
	if sp.in == "query" {
		return p.Query.Get(sp.name)
	}
	s, _ := p.BodyMap()[sp.name].(string)
	return s
}

// set replaces the point's value in p; the rest of p stays valid.
func (sp strPoint) set(p *scan.Prepared, v any) {
	if sp.in == "query" {
		p.Query.Set(sp.name, fmt.Sprint(v))
		return
	}
	if b := p.BodyMap(); b != nil {
		b[sp.name] = v
	}
}

// freeString reports whether s is a free-form string: no enum and, when
// noFormat, no format (an e-mail or a date is validated before any query).
func freeString(s *base.Schema, noFormat bool) bool {
	return s != nil && hasType(s, "string") && len(s.Enum) == 0 && (!noFormat || s.Format == "") &&
		(s.ReadOnly == nil || !*s.ReadOnly)
}

// stringPoints lists the free-form string inputs of t's spec: query
// parameters of GETs, then top-level string properties of POST JSON bodies.
// Login and logout are left out: a probe there is a failed login, which
// belongs to the login checks and their phase, not to a parallel probe.
// PUT and PATCH bodies are left out too: probing them rewrites existing
// objects that other checks read.
func stringPoints(t *scan.Target, noFormat bool) []strPoint {
	var out []strPoint
	for _, op := range ops(t, func(op *openapi.Operation) bool { return op.Method == http.MethodGet }) {
		for _, prm := range op.Params {
			if prm != nil && strings.EqualFold(prm.In, "query") && freeString(scan.SchemaOf(prm.Schema), noFormat) {
				out = append(out, strPoint{op, "query", prm.Name})
			}
		}
	}
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodPost && !scan.IsLogin(op) && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	}) {
		bs := bodySchema(op)
		if bs == nil || bs.Properties == nil {
			continue
		}
		for name, ps := range bs.Properties.FromOldest() {
			if freeString(scan.SchemaOf(ps), noFormat) {
				out = append(out, strPoint{op, "body", name})
			}
		}
	}
	return out
}

// timeProbe injects each payload template (with %d the delay in units) into
// the free-form string inputs of stringPoints whose valid request succeeds
// (query parameters of GETs, top-level string properties of POST bodies;
// one input at a time, the rest of the request valid).
// A finding needs: a baseline (3 valid requests) whose slowest answer is B;
// payload(2) late by ≥ 0.8×2 units over B; payload(4) late by ≥ 0.8×4 units
// and ≥ 1 unit more than payload(2); payload(0) not late by a unit; and
// payload(2) late again. Inputs stop at their first finding.
func timeProbe(ctx context.Context, t *scan.Target, unit time.Duration, payloads []string, report func(scan.Finding)) error {
	if unit <= 0 {
		unit = time.Second
	}
	for _, sp := range stringPoints(t, false) {
		op := sp.op
		id := actor(t, op)
		send := func(v *string) (*scan.Exchange, error) {
			p := t.Prepare(op, id)
			if v != nil {
				sp.set(p, sp.get(p)+*v)
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
				Param: sp.String(),
				Key:   tmpl,
				Detail: fmt.Sprintf("%s %s: appending %q to %s delayed the answer in proportion: baseline ≤ %v; sleep %d: %v, %v; sleep %d: %v; sleep 0: %v (unit %v).",
					op.Method, op.Template, fmt.Sprintf(tmpl, delayHigh), sp, base.Round(time.Millisecond), delayLow, got[0].Round(time.Millisecond), got[3].Round(time.Millisecond), delayHigh, got[1].Round(time.Millisecond), got[2].Round(time.Millisecond), unit),
			}.At(op).With(last, fmt.Sprintf("sleep %d", delayHigh)))
			break
		}
	}
	return nil
}
