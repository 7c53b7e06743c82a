package dynamic

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/scan"
)

// SQLiBoolean (GH2051) appends boolean conditions to each injectable value:
// a true and a false variant (OR 1=1 / OR 1=2, AND 1=1 / AND 1=2, in string
// and numeric context, with and without a trailing comment). It reports when
// the true and false answers differ, one of them matches the valid
// request's answer, the valid answer is stable, and a second pair with
// other constants reproduces them (see reproduced).
type SQLiBoolean struct{}

var _ scan.Check = SQLiBoolean{}

// Meta implements scan.Check.
func (SQLiBoolean) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2051", Title: "SQL injection (boolean-based)", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-89",
		Description: "Appending a true versus a false SQL condition to a parameter changed the answer in a reproducible way: the parameter is evaluated as SQL.",
		Remediation: "Use parameterized queries or a query builder for every statement; never concatenate input into SQL.",
		Fix:         "request: { detect_injection: true }   # plus the contract's types and maxLength on the parameter",
		Intrusive:   true,
		// Its probes reach every body field, the login's too: failed logins
		// that count towards throttles and lockouts. It runs after the probe
		// phase, so GH2031 and GH2052 see the login first.
		Phase: scan.PhaseState,
	}
}

type boolPair struct{ t, f, ct, cf string }

var boolPairs = []boolPair{
	{"' OR '1'='1", "' OR '1'='2", "' OR 'a'='a", "' OR 'a'='b"},
	{"' OR 1=1-- ", "' OR 1=2-- ", "' OR 2=2-- ", "' OR 2=3-- "},
	{"' AND '1'='1", "' AND '1'='2", "' AND 'a'='a", "' AND 'a'='b"},
	{"' AND 1=1-- ", "' AND 1=2-- ", "' AND 2=2-- ", "' AND 2=3-- "},
	{" OR 1=1", " OR 1=2", " OR 2=2", " OR 2=3"},
	{" AND 1=1", " AND 1=2", " AND 2=2", " AND 2=3"},
}

func same(a, b *scan.Exchange) bool {
	return a.Status == b.Status && scan.Similarity(a.Body, b.Body) >= 0.95
}

// reproduced reports whether the second pair (ct, cf) reproduces the first
// (rt, rf): the same answers, or the same direction: the two differ again,
// with the same statuses, and each is closer to its own first answer than
// to the other one. A list the injected condition returns whole may grow
// between the pairs (other clients, or this scan, register users), so the
// second "true" answer need not equal the first; an API that only echoes
// the input does not pass (" OR 2=2" is no closer to " OR 1=1" than to
// " OR 1=2").
func reproduced(rt, rf, ct, cf *scan.Exchange) bool {
	if same(ct, rt) && same(cf, rf) {
		return true
	}
	if same(ct, cf) || ct.Status != rt.Status || cf.Status != rf.Status {
		return false
	}
	closer := func(x, own, other *scan.Exchange) bool {
		return scan.Similarity(x.Body, own.Body) > scan.Similarity(x.Body, other.Body)
	}
	return closer(ct, rt, rf) && closer(cf, rf, rt)
}

// Run implements scan.Check.
func (SQLiBoolean) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range injectable(t) {
		who, p0, ok := prepareInjection(t, op)
		pts := points(p0)
		if !ok || len(pts) == 0 {
			continue
		}
		send := func(pt point, v string) (*scan.Exchange, error) {
			p := p0.Clone()
			pt.set(p, v)
			return t.Send(ctx, p, who)
		}
		base, err := t.Send(ctx, p0, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		base2, err := t.Send(ctx, p0, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if !same(base, base2) || base.Status >= 500 {
			continue // dynamic answers: a diff would prove nothing
		}
	points:
		for _, pt := range pts {
			for _, bp := range boolPairs {
				var ex [4]*scan.Exchange
				for i, pl := range []string{bp.t, bp.f} {
					e, err := send(pt, pt.orig+pl)
					if err != nil {
						if err := stopErr(ctx, err); err != nil {
							return err
						}
						break points
					}
					ex[i] = e
				}
				rt, rf := ex[0], ex[1]
				if rt.Status >= 500 || rf.Status >= 500 || same(rt, rf) || !(same(rt, base) || same(rf, base)) {
					continue
				}
				for i, pl := range []string{bp.ct, bp.cf} {
					e, err := send(pt, pt.orig+pl)
					if err != nil {
						if err := stopErr(ctx, err); err != nil {
							return err
						}
						break points
					}
					ex[2+i] = e
				}
				if !reproduced(rt, rf, ex[2], ex[3]) {
					continue
				}
				report(scan.Finding{Param: pt.String(),
					Detail: fmt.Sprintf("%s of %s %s: appending %q answered %d (%d bytes), %q answered %d (%d bytes); a second pair reproduced both, and the valid request's answer is stable.",
						pt, op.Method, op.Template, bp.t, rt.Status, len(rt.Body), bp.f, rf.Status, len(rf.Body)),
				}.At(op).With(rt, "true condition").With(rf, "false condition"))
				break
			}
		}
	}
	return nil
}
