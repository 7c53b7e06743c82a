package report

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/scan"
)

// JUnit writes JUnit XML: one testsuite per check, one testcase per
// operation the check exercised (a failure per finding there), so CI test
// views show what was tested, not only what failed.
type JUnit struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failures  []junitResult `xml:"failure,omitempty"`
	Skipped   *junitResult  `xml:"skipped,omitempty"`
	Error     *junitResult  `xml:"error,omitempty"`
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// Report implements Reporter.
func (JUnit) Report(w io.Writer, r *scan.Result) error {
	out := junitSuites{Name: "gatehouse scan " + r.Target, Time: fmt.Sprintf("%.3f", r.Finished.Sub(r.Started).Seconds())}
	byCheck := map[string][]scan.Finding{}
	for _, f := range r.Findings {
		byCheck[f.CheckID] = append(byCheck[f.CheckID], f)
	}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.Meta.ID + " " + c.Meta.Title, Time: fmt.Sprintf("%.3f", c.Duration.Seconds())}
		ops := append([]string(nil), c.Operations...)
		for _, f := range byCheck[c.Meta.ID] {
			if !containsStr(ops, f.Operation) {
				ops = append(ops, f.Operation)
			}
		}
		if len(ops) == 0 {
			ops = []string{""}
		}
		for _, op := range ops {
			name := op
			if name == "" {
				name = "(target)"
			}
			tc := junitCase{Name: name, Classname: c.Meta.ID}
			switch {
			case c.Skipped != "":
				tc.Skipped = &junitResult{Message: c.Skipped}
				s.Skipped++
			case c.Error != "" && op == ops[0]:
				tc.Error = &junitResult{Message: c.Error}
			}
			for _, f := range byCheck[c.Meta.ID] {
				if f.Operation == op {
					body := f.Detail + "\n"
					if f.Curl != "" {
						body += "reproduce: " + f.Curl + "\n"
					}
					if f.Fix != "" {
						body += "gatehouse fix: " + f.Fix + "\n"
					}
					tc.Failures = append(tc.Failures, junitResult{Message: f.Title, Type: f.Severity.String(), Body: body})
				}
			}
			if len(tc.Failures) > 0 {
				s.Failures++
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func containsStr(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
