package report

import (
	"html/template"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/scan"
)

var auditHTMLTmpl = template.Must(template.New("audit").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"where": auditWhere,
	"sev":   func(s scan.Severity) string { return s.String() },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse audit report: {{.R.Spec}}</title>
<style>
` + cssPage + `.score{font-size:32px;font-weight:700}
` + cssFindings + `</style>
</head>
<body>
<header><h1>gatehouse audit report</h1>
<div>{{.R.Spec}} · OpenAPI {{.R.SpecVersion}} · {{.R.Operations}} operations{{if .R.Config}} · gateway config {{.R.Config}}{{end}}</div></header>
<main>
<h2>Score</h2>
<p class="score" id="score">{{.R.Score}}/100</p>
<h2>Summary</h2>
<table id="summary"><tr><th>OWASP API Top 10 (2023)</th><th>critical</th><th>high</th><th>medium</th><th>low</th><th>info</th></tr>
{{range .Cats}}<tr><td>{{.Name}}</td>{{range .Counts}}<td>{{.}}</td>{{end}}</tr>
{{end}}<tr><th>total ({{len .R.Findings}} findings{{if .R.Ignored}}, {{.R.Ignored}} accepted with x-gatehouse-ignore{{end}})</th>{{range .Totals}}<th>{{.}}</th>{{end}}</tr></table>
<h2>Findings</h2>
{{if not .R.Findings}}<p id="no-findings">No findings.</p>{{end}}
{{range .R.Findings}}<section class="finding {{sev .Severity}}" id="{{.ID}}">
<h3><span class="badge {{sev .Severity}}">{{upper (sev .Severity)}}</span> {{.RuleID}} {{.Title}}</h3>
<div class="meta">{{where .}}{{if .Operation}} ({{.Method}} {{.Path}}, {{.Operation}}){{end}} · {{.OWASP}} · {{.CWE}} · id {{.ID}}</div>
<p>{{.Detail}}</p>
<p><b>Remediation:</b> {{.Remediation}}</p>
{{if .Fix}}<p><b>Gatehouse setting that covers it:</b></p><pre>{{.Fix}}</pre>{{end}}
</section>
{{end}}
<h2>Rules</h2>
<table id="rules"><tr><th>ID</th><th>title</th><th>family</th><th>severity</th><th>OWASP</th><th>CWE</th></tr>
{{range .R.Rules}}<tr><td>{{.ID}}</td><td>{{.Title}}</td><td>{{.Family}}</td><td>{{sev .Severity}}</td><td>{{.OWASP}}</td><td>{{.CWE}}</td></tr>
{{end}}</table>
</main>
</body>
</html>
`))

// ReportAudit implements AuditReporter: one self-contained page (inline
// CSS, no script) with the score, the summary table, each finding and the
// rules that ran. Every value is escaped by html/template: spec text
// (descriptions, names) cannot inject markup.
func (HTML) ReportAudit(w io.Writer, r *audit.Result) error {
	cats, m, tot := auditOWASP(r)
	data := struct {
		R      *audit.Result
		Cats   []htmlCat
		Totals []int
	}{R: r}
	for _, c := range cats {
		hc := htmlCat{Name: c}
		for _, s := range order {
			hc.Counts = append(hc.Counts, m[c][s])
		}
		data.Cats = append(data.Cats, hc)
	}
	for _, s := range order {
		data.Totals = append(data.Totals, tot[s])
	}
	return auditHTMLTmpl.Execute(w, data)
}
