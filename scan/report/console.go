package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// Console writes a human-readable report: each finding with its detail and
// fix, then a summary table by severity and OWASP category.
type Console struct{}

// Report implements Reporter.
func (Console) Report(w io.Writer, r *scan.Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "gatehouse scan of %s (spec %s): %d requests in %s, identities: %s\n",
		r.Target, r.Spec, r.Requests, r.Finished.Sub(r.Started).Round(1e6), strings.Join(r.Identities, ", "))
	if r.ThrottleWaited > 0 {
		fmt.Fprintf(ew, "waited %s in all for the target's rate limits (429 or 503 with Retry-After) before resending probes\n", r.ThrottleWaited.Round(1e6))
	}
	fmt.Fprintln(ew)
	for _, f := range r.Findings {
		fmt.Fprintf(ew, "%-8s %s  %s\n", strings.ToUpper(f.Severity.String()), f.CheckID, f.Title)
		fmt.Fprintf(ew, "         %s", where(f))
		if f.Operation != "" {
			fmt.Fprintf(ew, " (%s)", f.Operation)
		}
		if f.Param != "" {
			fmt.Fprintf(ew, " [%s]", f.Param)
		}
		fmt.Fprintf(ew, "  %s · %s\n", f.OWASP, f.CWE)
		fmt.Fprintf(ew, "         %s\n", f.Detail)
		if f.Curl != "" {
			fmt.Fprintf(ew, "         reproduce: %s\n", f.Curl)
		}
		if f.Fix != "" {
			fmt.Fprintf(ew, "         gatehouse fix: %s\n", strings.ReplaceAll(f.Fix, "\n", "\n                        "))
		}
		fmt.Fprintln(ew)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(ew, "No findings.")
		fmt.Fprintln(ew)
	}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	row := func(name string, counts map[scan.Severity]int) {
		cells := []string{name}
		for _, s := range order {
			cells = append(cells, fmt.Sprint(counts[s]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	fmt.Fprintln(tw, "OWASP API Top 10 (2023)\tcritical\thigh\tmedium\tlow\tinfo")
	cats, m := owaspRows(r)
	for _, c := range cats {
		row(c, m[c])
	}
	row("total", bySeverity(r))
	if err := tw.Flush(); err != nil {
		return err
	}
	var skipped, failed []string
	for _, c := range r.Checks {
		if c.Skipped != "" {
			skipped = append(skipped, c.Meta.ID)
		}
		if c.Error != "" {
			failed = append(failed, c.Meta.ID+" ("+c.Error+")")
		}
	}
	fmt.Fprintf(ew, "\n%d findings", len(r.Findings))
	if r.Suppressed > 0 {
		fmt.Fprintf(ew, ", %d suppressed by the baseline", r.Suppressed)
	}
	fmt.Fprintf(ew, "; %d checks run", len(r.Checks)-len(skipped))
	if len(skipped) > 0 {
		fmt.Fprintf(ew, ", skipped in safe mode: %s", strings.Join(skipped, " "))
	}
	fmt.Fprintln(ew)
	if len(failed) > 0 {
		fmt.Fprintf(ew, "checks that did not finish: %s\n", strings.Join(failed, "; "))
	}
	writeCoverage(ew, r)
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeCoverage writes one coverage line per check, then the operations
// the damage guard restricted and the target's outages.
func writeCoverage(w io.Writer, r *scan.Result) {
	if len(r.Checks) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCoverage (per check: operations tested, skipped with the reason, not run):")
	for _, c := range r.Checks {
		if c.Status == "" { // a result from before coverage existed
			continue
		}
		fmt.Fprintf(w, "  %s\n", scan.CoverageLine(c))
	}
	for _, g := range r.Guarded {
		fmt.Fprintf(w, "guarded: %s is %s (%s), called %d time(s)\n", g.Operation, g.Policy, g.Reason, g.Calls)
	}
	for _, o := range r.Outages {
		back := "did not come back"
		if o.Back != nil {
			back = fmt.Sprintf("back after %s", o.Downtime.Round(time.Millisecond))
		}
		fmt.Fprintf(w, "target down after %s (check %s): %s, %s\n", o.Trigger, o.Check, o.Error, back)
	}
	for _, l := range scan.CleanupSummary(r.Cleanup) {
		fmt.Fprintln(w, l)
	}
}
