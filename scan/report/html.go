package report

import (
	"html/template"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// HTML writes one self-contained page (inline CSS, no script, no external
// asset): summary tables, then each finding with detail, fix, curl and
// collapsible evidence. Every value is escaped by html/template, so
// attacker-controlled response excerpts cannot inject markup.
type HTML struct{}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper":   strings.ToUpper,
	"where":   where,
	"sev":     func(s scan.Severity) string { return s.String() },
	"count":   func(m map[scan.Severity]int, s scan.Severity) int { return m[s] },
	"covline": scan.CoverageLine,
	"cleanup": scan.CleanupSummary,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse scan report: {{.R.Target}}</title>
<style>
` + cssPage + `` + cssFindings + `#coverage li.cov-skipped,#coverage li.cov-not_run,#coverage li.cov-untested{color:#9a6700;font-weight:600}
</style>
</head>
<body>
<header><h1>gatehouse scan report</h1>
<div>{{.R.Target}} · spec {{.R.Spec}} · {{.R.Requests}} requests · {{.R.Started.Format "2006-01-02 15:04:05 MST"}}</div></header>
<main>
<h2>Summary</h2>
<table id="summary"><tr><th>OWASP API Top 10 (2023)</th><th>critical</th><th>high</th><th>medium</th><th>low</th><th>info</th></tr>
{{range .Cats}}<tr><td>{{.Name}}</td>{{range .Counts}}<td>{{.}}</td>{{end}}</tr>
{{end}}<tr><th>total ({{len .R.Findings}} findings{{if .R.Suppressed}}, {{.R.Suppressed}} suppressed{{end}})</th>{{range .Totals}}<th>{{.}}</th>{{end}}</tr></table>
<h2>Findings</h2>
{{if not .R.Findings}}<p id="no-findings">No findings.</p>{{end}}
{{range .R.Findings}}<section class="finding {{sev .Severity}}" id="{{.ID}}">
<h3><span class="badge {{sev .Severity}}">{{upper (sev .Severity)}}</span> {{.CheckID}} {{.Title}}</h3>
<div class="meta">{{where .}}{{if .Operation}} ({{.Operation}}){{end}}{{if .Param}} · {{.Param}}{{end}} · {{.OWASP}} · {{.CWE}} · id {{.ID}}</div>
<p>{{.Detail}}</p>
<p><b>Remediation:</b> {{.Remediation}}</p>
{{if .Fix}}<p><b>Gatehouse setting that fixes it:</b></p><pre>{{.Fix}}</pre>{{end}}
{{if .Curl}}<p><b>Reproduce:</b></p><pre>{{.Curl}}</pre>{{end}}
{{range .Evidence}}<details><summary>Evidence: {{.Note}}</summary><pre>{{.Request}}</pre><pre>{{.Response}}</pre></details>
{{end}}</section>
{{end}}
<h2>Coverage</h2>
<ul id="coverage">{{range .R.Checks}}{{if .Status}}<li class="cov-{{.Status}}">{{covline .}}</li>{{end}}{{end}}</ul>
{{range cleanup .R.Cleanup}}<p class="meta cleanup">{{.}}</p>
{{end}}{{range .R.Guarded}}<p class="meta guarded">guarded: {{.Operation}} is {{.Policy}} ({{.Reason}}), called {{.Calls}} time(s)</p>
{{end}}{{range .R.Checks}}{{if .Coverage}}<details class="cov-ops" id="coverage-{{.Meta.ID}}"><summary>{{.Meta.ID}} per operation</summary>
<table><tr><th>operation</th><th>status</th><th>reason</th><th>requests</th></tr>
{{range .Coverage}}<tr><td>{{if .Operation}}{{.Operation}}{{else}}(target-wide){{end}}</td><td>{{.Status}}</td><td>{{.Reason}}</td><td>{{.Requests}}</td></tr>
{{end}}</table></details>
{{end}}{{end}}
<h2>Checks</h2>
<table id="checks"><tr><th>ID</th><th>title</th><th>severity</th><th>OWASP</th><th>CWE</th><th>requests</th><th>findings</th><th>status</th></tr>
{{range .R.Checks}}<tr><td>{{.Meta.ID}}</td><td>{{.Meta.Title}}</td><td>{{sev .Meta.Severity}}</td><td>{{.Meta.OWASP}}</td><td>{{.Meta.CWE}}</td><td>{{.Requests}}</td><td>{{.Findings}}</td><td>{{if .Skipped}}skipped: {{.Skipped}}{{else if .Error}}error: {{.Error}}{{else}}done{{end}}</td></tr>
{{end}}</table>
</main>
</body>
</html>
`))

type htmlCat struct {
	Name   string
	Counts []int
}

// Report implements Reporter.
func (HTML) Report(w io.Writer, r *scan.Result) error {
	cats, m := owaspRows(r)
	data := struct {
		R      *scan.Result
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
	tot := bySeverity(r)
	for _, s := range order {
		data.Totals = append(data.Totals, tot[s])
	}
	return htmlTmpl.Execute(w, data)
}

// cssPage and cssFindings are the style rules the scan and audit HTML reports
// share (page frame and tables; finding cards, badges and evidence).
const cssPage = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#1b1f24;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;background:#fff;margin:8px 0 16px}td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}
th{background:#eaeef2}
`

const cssFindings = `.finding{background:#fff;border:1px solid #d0d7de;border-left-width:6px;border-radius:6px;padding:10px 14px;margin:12px 0}
.critical{border-left-color:#8b0000}.high{border-left-color:#cf222e}.medium{border-left-color:#bf8700}.low{border-left-color:#0969da}.info{border-left-color:#6e7781}
.badge{display:inline-block;font-weight:600;font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;background:#6e7781}
.badge.critical{background:#8b0000}.badge.high{background:#cf222e}.badge.medium{background:#bf8700}.badge.low{background:#0969da}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.meta{color:#57606a;font-size:13px}
`
