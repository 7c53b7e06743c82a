package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// Compare counts findings per OWASP category in both results.
func Compare(direct, protected *scan.Result) []Row {
	rows := map[string]*Row{}
	add := func(r *scan.Result, protectedSide bool) {
		for _, f := range r.Findings {
			row := rows[f.OWASP]
			if row == nil {
				row = &Row{Category: f.OWASP}
				rows[f.OWASP] = row
			}
			if protectedSide {
				row.Protected++
			} else {
				row.Direct++
			}
		}
	}
	add(direct, false)
	add(protected, true)
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Category < out[j].Category })
	return out
}

// PrintTable writes the before/after table and the finding titles that
// remain through the gateway.
func PrintTable(w io.Writer, res *Result) {
	width := len("OWASP API Top 10 (2023)")
	for _, r := range res.Rows {
		width = max(width, len(r.Category))
	}
	line := strings.Repeat("-", width+30)
	fmt.Fprintf(w, "\n%-*s  %8s  %16s\n%s\n", width, "OWASP API Top 10 (2023)", "direct", "through gatehouse", line)
	var td, tp int
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%-*s  %8d  %16d\n", width, r.Category, r.Direct, r.Protected)
		td += r.Direct
		tp += r.Protected
	}
	fmt.Fprintf(w, "%s\n%-*s  %8d  %16d\n", line, width, "total findings", td, tp)
	fmt.Fprintf(w, "%-*s  %8d  %16d\n", width, "  of which high or critical",
		res.Direct.Count(scan.High), res.Protected.Count(scan.High))
	fmt.Fprintf(w, "%-*s  %8d  %16d\n", width, "requests sent", res.Direct.Requests, res.Protected.Requests)
	fmt.Fprintf(w, "%-*s  %8d  %16d\n\n", width, "checks that tested nothing", len(res.Direct.Untested(scan.Info)), len(res.Protected.Untested(scan.Info)))
	if len(res.Protected.Findings) > 0 {
		fmt.Fprintln(w, "Still found through gatehouse:")
		for _, f := range res.Protected.Findings {
			op := f.Operation
			if op == "" {
				op = "(target)"
			}
			fmt.Fprintf(w, "  [%s] %s %s: %s\n", f.Severity, f.CheckID, op, f.Title)
		}
		fmt.Fprintln(w)
	}
	// 0 findings must never read as "nothing there": say what the scan
	// through the gateway could not test, and why.
	if u := res.Protected.Untested(scan.Info); len(u) > 0 {
		fmt.Fprintln(w, "Not tested through gatehouse (coverage in protected.html):")
		for _, c := range u {
			fmt.Fprintf(w, "  %s %s: %s\n", c.Meta.ID, c.Status, c.Reason)
		}
		fmt.Fprintln(w)
	}
}
