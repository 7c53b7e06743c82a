package scan

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// checkStatus sums up a finished check's coverage (see CheckRun.Status).
func checkStatus(run *CheckRun, findings int, err error) (status, reason string) {
	counts := run.Counts()
	tested := counts[CoverTested] > 0 || findings > 0
	for _, oc := range run.Coverage {
		if oc.Operation == "" && oc.Status == CoverTested {
			tested = true
		}
	}
	down := errors.Is(err, ErrTargetDown) || (err != nil && connFailure(err))
	switch {
	case run.Skipped != "":
		return "skipped", run.Skipped
	case err != nil && !tested && down:
		return "not_run", "target down"
	case err != nil && !tested:
		return "not_run", run.Error
	case tested && down:
		return CoverTested, "incomplete: target down"
	case tested && err != nil:
		return CoverTested, "incomplete: " + run.Error
	case tested && throttledProbes(run) > 0:
		return CoverTested, fmt.Sprintf("incomplete: %d probes rate limited after retries (see coverage)", throttledProbes(run))
	case tested:
		return CoverTested, ""
	}
	if counts[CoverSkipped] > 0 {
		return "skipped", "every operation it applies to was skipped (see coverage)"
	}
	if counts[CoverNotRun] > 0 {
		return "not_run", "target down"
	}
	return "untested", "sent no request and marked no operation: nothing in this API it applies to was found"
}

// throttledProbes counts the probes of run still rate limited after
// retries.
func throttledProbes(run *CheckRun) int {
	n := 0
	for _, oc := range run.Coverage {
		n += oc.Throttled
	}
	return n
}

// CoverageLine is the one-line summary of a check's coverage:
// "GH2010 Broken object level authorization: 6 operations tested, 2 skipped (no second identity owns an object there)".
func CoverageLine(c CheckRun) string {
	counts := c.Counts()
	var parts []string
	if n := counts[CoverTested]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d operation%s tested", n, plural(n)))
	}
	for _, oc := range c.Coverage {
		if oc.Operation == "" && oc.Status == CoverTested {
			if oc.Requests == 0 && oc.Reason != "" {
				parts = append(parts, "offline: "+oc.Reason) // GH2003/GH2004 judge the tokens
				continue
			}
			parts = append(parts, fmt.Sprintf("target-wide (%d request%s)", oc.Requests, plural(oc.Requests)))
		}
	}
	reasons := func(status string) string {
		seen := map[string]int{}
		for _, oc := range c.Coverage {
			if oc.Status == status && oc.Reason != "" && oc.Operation != "" {
				seen[oc.Reason]++
			}
		}
		var rs []string
		for r := range seen {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		if len(rs) > 2 {
			rs = append(rs[:2], "…")
		}
		if len(rs) == 0 {
			return ""
		}
		return ": " + strings.Join(rs, "; ")
	}
	if n := counts[CoverSkipped]; n > 0 && c.Skipped == "" {
		parts = append(parts, fmt.Sprintf("%d skipped%s", n, reasons(CoverSkipped)))
	}
	if n := counts[CoverNotRun]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not run: target down", n))
	}
	head := fmt.Sprintf("%s %s: ", c.Meta.ID, c.Meta.Title)
	switch c.Status {
	case "skipped":
		if c.Skipped != "" {
			return head + "skipped: " + c.Skipped
		}
	case "not_run":
		if len(parts) == 0 {
			return head + "not run: " + c.Reason
		}
	case "untested":
		return head + "NOT TESTED: " + c.Reason
	}
	line := head + strings.Join(parts, ", ")
	if strings.HasPrefix(c.Reason, "incomplete") {
		line += " (" + c.Reason + ")"
	}
	return line
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Untested returns the checks at or above min severity that did not test
// anything (skipped, not run or untested): what --fail-on-skipped fails on.
func (r *Result) Untested(min Severity) []CheckRun {
	var out []CheckRun
	for _, c := range r.Checks {
		if c.Meta.Severity >= min && c.Status != CoverTested && c.Status != "" {
			out = append(out, c)
		}
	}
	return out
}

// report lists the operations the guard restricted, sorted.
func (g *guard) report() []GuardedOp {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []GuardedOp
	for id, p := range g.policy {
		name := "destructive"
		if p == OpExcluded {
			name = "excluded"
		}
		out = append(out, GuardedOp{Operation: id, Policy: name, Reason: g.why[id], Calls: g.called[id]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Operation < out[j].Operation })
	return out
}

// outageFinding turns an outage into a GH2070 finding: the trigger's
// operation, the last requests before it as evidence, a curl command.
func outageFinding(t *Target, o Outage) Finding {
	f := Finding{Key: o.Trigger.Method + " " + o.Trigger.Op}
	if op := t.Operation(o.Trigger.Op); op != nil && o.Trigger.Op != "" {
		f = f.At(op)
	} else {
		f.Method = o.Trigger.Method
	}
	back := "it did not come back within the wait"
	if !o.Back.IsZero() {
		back = fmt.Sprintf("it answered again after %s", o.Back.Sub(o.Down).Round(time.Millisecond))
	}
	f.Detail = fmt.Sprintf("The target stopped answering after %s %s (%s); a health probe got no answer either; %s. The last %d requests before it died are the evidence, the first failed one the likely cause.",
		o.Trigger.Method, o.Trigger.URL, o.Err, back, len(o.Recent))
	for _, s := range o.Recent {
		ex := &Exchange{Request: s.Request, Status: s.Status}
		ev := ex.Evidence("")
		note := "check " + s.Check
		if s.Check == "" {
			note = "crawl or login"
		}
		if s.Err != "" {
			ev.Response = "(no answer: " + s.Err + ")"
			note += ", no answer"
		} else {
			note += fmt.Sprintf(", answered %d", s.Status)
		}
		ev.Note = note
		f.Evidence = append(f.Evidence, ev)
	}
	f.Curl = o.Trigger.Curl()
	return complete(f, TargetDownMeta)
}

func outageReport(t *Target, o Outage) OutageReport {
	r := OutageReport{Trigger: o.Trigger.Method + " " + o.Trigger.URL, Operation: o.Trigger.Op, Error: o.Err, Down: o.Down.UTC(), Probes: o.Probes}
	for _, s := range o.Recent {
		if s.Request == o.Trigger {
			r.Check = s.Check
		}
	}
	if !o.Back.IsZero() {
		b := o.Back.UTC()
		r.Back, r.Downtime = &b, o.Back.Sub(o.Down)
	}
	return r
}
