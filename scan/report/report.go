// Package report renders a scan.Result: console (a summary table by
// severity and OWASP API Top 10 category), JSON (stable, documented in
// docs/scan.md), SARIF 2.1.0 (for code-scanning dashboards), a
// self-contained HTML page and JUnit XML (one testcase per check ×
// operation, for CI test views).
//
// SARIF is written with hand-made structs rather than a SARIF library: the
// subset used is small, and a test validates the output against the
// official OASIS 2.1.0 JSON schema.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// Reporter writes a Result in one format. Implementations are stateless
// and safe for concurrent use.
type Reporter interface {
	Report(w io.Writer, r *scan.Result) error
}

// Formats lists the supported format names.
var Formats = []string{"console", "json", "sarif", "html", "junit"}

// New returns the reporter for format.
func New(format string) (Reporter, error) {
	switch strings.ToLower(format) {
	case "console", "":
		return Console{}, nil
	case "json":
		return JSON{}, nil
	case "sarif":
		return SARIF{}, nil
	case "html":
		return HTML{}, nil
	case "junit":
		return JUnit{}, nil
	}
	return nil, fmt.Errorf("unknown report format %q (want %s)", format, strings.Join(Formats, ", "))
}

var order = []scan.Severity{scan.Critical, scan.High, scan.Medium, scan.Low, scan.Info}

func bySeverity(r *scan.Result) map[scan.Severity]int {
	m := map[scan.Severity]int{}
	for _, f := range r.Findings {
		m[f.Severity]++
	}
	return m
}

// owaspRows counts findings per OWASP category, sorted by category.
func owaspRows(r *scan.Result) ([]string, map[string]map[scan.Severity]int) {
	m := map[string]map[scan.Severity]int{}
	var cats []string
	for _, f := range r.Findings {
		if m[f.OWASP] == nil {
			m[f.OWASP] = map[scan.Severity]int{}
			cats = append(cats, f.OWASP)
		}
		m[f.OWASP][f.Severity]++
	}
	sortStrings(cats)
	return cats, m
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func where(f scan.Finding) string {
	if f.Method == "" {
		return "(target)"
	}
	return f.Method + " " + f.Path
}
