package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/scan"
)

// AuditReporter writes an audit.Result in one format. Console, JSON,
// SARIF and HTML implement it next to Reporter, so `gatehouse audit` and
// `gatehouse scan` share their formats.
type AuditReporter interface {
	ReportAudit(w io.Writer, r *audit.Result) error
}

// AuditFormats lists the formats of NewAudit.
var AuditFormats = []string{"console", "json", "sarif", "html"}

// NewAudit returns the audit reporter for format.
func NewAudit(format string) (AuditReporter, error) {
	switch strings.ToLower(format) {
	case "console", "":
		return Console{}, nil
	case "json":
		return JSON{}, nil
	case "sarif":
		return SARIF{}, nil
	case "html":
		return HTML{}, nil
	}
	return nil, fmt.Errorf("unknown audit report format %q (want %s)", format, strings.Join(AuditFormats, ", "))
}

func auditWhere(f audit.Finding) string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	}
	ptr := f.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return loc + " #" + ptr
}

// auditOWASP counts findings per OWASP category and severity.
func auditOWASP(r *audit.Result) ([]string, map[string]map[scan.Severity]int, map[scan.Severity]int) {
	m := map[string]map[scan.Severity]int{}
	tot := map[scan.Severity]int{}
	var cats []string
	for _, f := range r.Findings {
		if m[f.OWASP] == nil {
			m[f.OWASP] = map[scan.Severity]int{}
			cats = append(cats, f.OWASP)
		}
		m[f.OWASP][f.Severity]++
		tot[f.Severity]++
	}
	sort.Strings(cats)
	return cats, m, tot
}

// ReportAudit implements AuditReporter: each finding with its position,
// detail and fix, then the table by OWASP category and the score.
func (Console) ReportAudit(w io.Writer, r *audit.Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "gatehouse audit of %s (OpenAPI %s, %d operations)", r.Spec, r.SpecVersion, r.Operations)
	if r.Config != "" {
		fmt.Fprintf(ew, " with gateway config %s", r.Config)
	}
	fmt.Fprint(ew, "\n\n")
	for _, f := range r.Findings {
		fmt.Fprintf(ew, "%-8s %s  %s\n", strings.ToUpper(f.Severity.String()), f.RuleID, f.Title)
		fmt.Fprintf(ew, "         %s", auditWhere(f))
		if f.Operation != "" {
			fmt.Fprintf(ew, " (%s)", f.Operation)
		}
		fmt.Fprintf(ew, "  %s · %s\n", f.OWASP, f.CWE)
		fmt.Fprintf(ew, "         %s\n", f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(ew, "         gatehouse fix: %s\n", strings.ReplaceAll(f.Fix, "\n", "\n                        "))
		}
		fmt.Fprintln(ew)
	}
	if len(r.Findings) == 0 {
		fmt.Fprint(ew, "No findings.\n\n")
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
	cats, m, tot := auditOWASP(r)
	for _, c := range cats {
		row(c, m[c])
	}
	row("total", tot)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(ew, "\n%d findings", len(r.Findings))
	if r.Ignored > 0 {
		fmt.Fprintf(ew, ", %d accepted with x-gatehouse-ignore", r.Ignored)
	}
	fmt.Fprintf(ew, "; %d rules run\nscore: %d/100\n", len(r.Rules), r.Score)
	return ew.err
}

// AuditSchemaVersion is the version of the JSON audit report format.
const AuditSchemaVersion = 1

// ReportAudit implements AuditReporter: the Result as indented JSON
// (format in docs/audit.md).
func (JSON) ReportAudit(w io.Writer, r *audit.Result) error {
	out := struct {
		SchemaVersion int `json:"schema_version"`
		*audit.Result
	}{AuditSchemaVersion, r}
	if r.Findings == nil {
		cp := *r
		cp.Findings = []audit.Finding{}
		out.Result = &cp
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// ReportAudit implements AuditReporter: a SARIF 2.1.0 log with one rule
// per audit rule that ran and one result per finding, located at its line
// and column in the spec file, with the JSON pointer as a logical location
// and the fingerprint as a partial fingerprint.
func (SARIF) ReportAudit(w io.Writer, r *audit.Result) error {
	drv := sarifDriver{Name: "gatehouse", Version: r.Version, InformationURI: "https://github.com/gatehouse/gatehouse/blob/main/docs/audit.md", Rules: []sarifRule{}}
	index := map[string]int{}
	addRule := func(m audit.Rule) {
		if _, ok := index[m.ID]; ok {
			return
		}
		index[m.ID] = len(drv.Rules)
		help := m.Remediation
		md := nonEmpty(m.Remediation, m.Title)
		if m.Fix != "" {
			help += "\n\nGatehouse setting that covers it:\n" + m.Fix
			md += "\n\n```yaml\n" + m.Fix + "\n```"
		}
		drv.Rules = append(drv.Rules, sarifRule{
			ID: m.ID, Name: ruleName(m.Title),
			ShortDescription:     sarifText{Text: m.Title},
			FullDescription:      sarifText{Text: nonEmpty(m.Description, m.Title)},
			Help:                 sarifText{Text: nonEmpty(help, m.Title), Markdown: md},
			DefaultConfiguration: map[string]any{"level": level(m.Severity)},
			Properties: map[string]any{"tags": uniqueTags("security", m.OWASP, m.CWE, m.Family),
				"security-severity": securitySeverity(m.Severity), "precision": "medium"},
		})
	}
	for _, rl := range r.Rules {
		addRule(rl)
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		addRule(audit.Rule{ID: f.RuleID, Title: f.Title, Family: f.Family, Severity: f.Severity, OWASP: f.OWASP, CWE: f.CWE, Remediation: f.Remediation, Fix: f.Fix})
		uri := filepath.ToSlash(nonEmpty(f.File, r.Spec))
		if uri == "" {
			uri = "openapi.yaml"
		}
		region := map[string]int{"startLine": max(f.Line, 1)}
		if f.Column > 0 {
			region["startColumn"] = f.Column
		}
		ptr := f.Pointer
		if ptr == "" {
			ptr = "/"
		}
		loc := sarifLocation{
			PhysicalLocation: &sarifPhysical{ArtifactLocation: map[string]string{"uri": uri}, Region: region},
			LogicalLocations: []sarifLogical{{Name: ptr, FullyQualifiedName: "#" + f.Pointer, Kind: "member"}},
		}
		props := map[string]any{"severity": f.Severity.String(), "finding_id": f.ID, "pointer": f.Pointer}
		if f.Operation != "" {
			props["operation"] = f.Operation
		}
		results = append(results, sarifResult{
			RuleID: f.RuleID, RuleIndex: index[f.RuleID], Level: level(f.Severity),
			Message:             sarifText{Text: f.Detail},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"gatehouseFingerprint/v1": f.Fingerprint},
			Properties:          props,
		})
	}
	log := sarifLog{
		Schema:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: drv}, Results: results}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// uniqueTags drops empty and repeated tags (SARIF requires unique items).
func uniqueTags(tags ...string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
