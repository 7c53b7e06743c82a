package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// ErrorHandling (GH2040) sends malformed input to each operation (a
// wrong-typed, quote-laden value in each path and query parameter; a
// truncated JSON body) and reports answers that are 5xx or that leak stack
// traces, SQL/ORM errors, framework debug pages or internal paths not
// already present in the valid request's answer.
type ErrorHandling struct{}

var _ scan.Check = ErrorHandling{}

// Meta implements scan.Check.
func (ErrorHandling) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2040", Title: "Improper error handling: malformed input crashes the API or leaks internals", Category: "errors",
		Severity: scan.Medium, OWASP: scan.API8Misconfig, CWE: "CWE-209",
		Description: "Malformed input produced a server error or a response revealing stack traces, database errors or internal paths.",
		Remediation: "Validate input and answer 400 with a generic problem body; log details server-side only.",
		Fix:         "errors: { expose_details: false }\nrequest: { max_body: 1MiB }   # the gateway validates requests against the contract and rewrites 5xx bodies",
		// Its malformed bodies reach the login too: failed logins that count
		// towards throttles and lockouts. It runs after the probe phase, so
		// GH2031 and GH2052 see the login first.
		Phase: scan.PhaseState,
	}
}

// leakRe matches what must never reach a client.
var leakRe = regexp.MustCompile(`goroutine \d+ \[|panic: |\.go:\d+|Traceback \(most recent call last\)|\bat [\w.$]+\([\w]+\.(java|kt|scala):\d+\)|System\.[\w.]+Exception|Exception in thread|\bat .+ \(.+\.(js|ts):\d+:\d+\)|Werkzeug Debugger|Whitelabel Error Page|DEBUG = True|on line \d+ in /|/(home|usr|var|srv|opt)/[\w./-]+\.\w+|[A-Z]:\\\\[\w\\]+|` + sqlErrPattern)

const malformed = `ghscan"'<>`

// Run implements scan.Check.
func (ErrorHandling) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return op.Method != http.MethodDelete && !scan.IsLogout(op)
	}) {
		if !t.Client.Allowed(op.Method) {
			continue
		}
		who := actor(t, op)
		base, err := t.Baseline(ctx, op, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		var baseBody []byte
		if base != nil {
			baseBody = base.Body
		}
		type variant struct {
			what string
			p    *scan.Prepared
			raw  []byte
		}
		var vs []variant
		p0 := t.Prepare(op, who)
		for name := range p0.Path {
			p := p0.Clone()
			p.Path[name] = malformed
			vs = append(vs, variant{"path parameter " + name + "=" + malformed, p, nil})
		}
		for name := range p0.Query {
			p := p0.Clone()
			p.Query.Set(name, malformed)
			vs = append(vs, variant{"query parameter " + name + "=" + malformed, p, nil})
		}
		if p0.Body != nil {
			vs = append(vs, variant{"truncated JSON body", p0.Clone(), []byte(`{"ghscan": [`)})
		}
		for _, v := range vs {
			r := t.Request(v.p, who)
			if v.raw != nil {
				r.Body = v.raw
			}
			ex, err := t.Client.Do(ctx, r)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			leak := leakRe.FindString(string(ex.Body) + headerText(ex.Header))
			if leak != "" && leakRe.MatchString(string(baseBody)) {
				leak = ""
			}
			if leak == "" && ex.Status < 500 {
				continue
			}
			f := scan.Finding{Param: v.what, Key: "",
				Detail: fmt.Sprintf("%s %s with %s answered %d", op.Method, op.Template, v.what, ex.Status)}
			if leak != "" {
				f.Detail += fmt.Sprintf(" and leaked %q", clip(leak, 80))
			} else {
				f.Severity = scan.Low
			}
			f.Param = ""
			report(f.At(op).With(ex, v.what))
			break
		}
	}
	return nil
}

func headerText(h http.Header) string {
	var sb strings.Builder
	for k, vs := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-") {
			sb.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	return sb.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
