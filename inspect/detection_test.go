package inspect

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

func rate(c Checks, in []string) (hits int, pct float64, examples []string) {
	for _, s := range in {
		if _, ok := c.String(s); ok {
			hits++
			if len(examples) < 5 {
				examples = append(examples, s)
			}
		}
	}
	if len(in) == 0 {
		return 0, 0, nil
	}
	return hits, 100 * float64(hits) / float64(len(in)), examples
}

// TestDetectionRates measures detection per payload family on the
// third-party PayloadsAllTheThings lists and the false-positive rate on
// benign prose nobody here wrote, prints both, and fails below the floors
// measured when this test was written (regressions fail).
func TestDetectionRates(t *testing.T) {
	fams := testutil.PayloadFamilies(t)
	shell := Default
	shell.Shell = true
	trav := Default
	trav.Traversal = true
	ident := Default
	ident.SQLGrammar = true
	type floor struct {
		checks Checks
		label  string
		min    float64
	}
	floors := map[string][]floor{
		"SQL Injection":       {{Default, "default", 70}, {ident, "+sql grammar (identifiers)", 93}},
		"XSS Injection":       {{Default, "default", 63}},
		"NoSQL Injection":     {{Default, "default", 95}},
		"Command Injection":   {{Default, "default", 0}, {shell, "+shell (marked fields)", 86}},
		"Directory Traversal": {{Default, "default", 0}, {trav, "+traversal (marked fields)", 95}},
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-22s %-28s %8s %8s %8s\n", "family", "checks", "payloads", "detected", "rate")
	for _, n := range names {
		for _, f := range floors[n] {
			hits, pct, _ := rate(f.checks, fams[n])
			dhits, dpct, _ := rate(f.checks, testutil.QueryDecoded(fams[n]))
			fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.1f%%   as query value: %5d %6.1f%%\n", n, f.label, len(fams[n]), hits, pct, dhits, dpct)
			if pct < f.min {
				t.Errorf("%s with %s: detection %.1f%% below floor %.0f%%", n, f.label, pct, f.min)
			}
		}
	}
	benign := map[string][]string{"spec descriptions": testutil.SpecProse(t), "testdata prose/places": testutil.BenignProse(t),
		"spec identifiers": testutil.SpecIdentifiers(t)}
	fpCeil := map[string]float64{"spec descriptions": 0.2, "testdata prose/places": 0.1, "spec identifiers": 0.1}
	for _, n := range []string{"spec descriptions", "testdata prose/places", "spec identifiers"} {
		in := benign[n]
		if len(in) == 0 {
			continue
		}
		hits, pct, ex := rate(Default, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%  (false positives)\n", n, "default", len(in), hits, pct)
		for _, e := range ex {
			if len(e) > 100 {
				e = e[:100] + "..."
			}
			fmt.Fprintf(&report, "    FP example: %q\n", e)
		}
		if pct > fpCeil[n] {
			t.Errorf("%s: false-positive rate %.2f%% above ceiling %.2f%%", n, pct, fpCeil[n])
		}
		sh, shp, _ := rate(shell, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%  (why shell is opt-in)\n", n, "+shell", len(in), sh, shp)
		tr, trp, _ := rate(trav, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%\n", n, "+traversal", len(in), tr, trp)
		id, idp, idex := rate(ident, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%  (prose where an identifier belongs)\n", n, "+sql grammar", len(in), id, idp)
		for _, e := range idex {
			if len(e) > 100 {
				e = e[:100] + "..."
			}
			fmt.Fprintf(&report, "    FP example: %q\n", e)
		}
		if idp > fpCeil[n] {
			t.Errorf("%s with the SQL grammar: false-positive rate %.2f%% above ceiling %.2f%%", n, idp, fpCeil[n])
		}
	}
	t.Log(report.String())
}
