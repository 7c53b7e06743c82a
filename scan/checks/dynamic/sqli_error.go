package dynamic

import (
	"context"
	"fmt"
	"regexp"

	"github.com/gatehouse/gatehouse/scan"
)

// sqlErrPattern matches database error messages of common engines.
const sqlErrPattern = `(?i)(SQL syntax.*MySQL|Warning.*mysql_|valid MySQL result|MySqlException|PostgreSQL.*ERROR|pg_query\(|PSQLException|unterminated quoted string|syntax error at or near|ORA-\d{5}|Oracle error|Microsoft OLE DB|ODBC SQL Server|SQLServer JDBC|Unclosed quotation mark|SQLite(3)?::|sqlite3?\.OperationalError|SQLITE_ERROR|SQL logic error|unrecognized token|near "[^"]*": syntax error|SQLSTATE\[|You have an error in your SQL syntax|quoted string not properly terminated)`

var sqlErrRe = regexp.MustCompile(sqlErrPattern)

// SQLiError (GH2050) appends a quote to each injectable value (path and
// query parameters, JSON body strings). A database error that the valid
// request's answer does not contain, and that disappears when the quote is
// balanced (”), is a finding.
type SQLiError struct{}

var _ scan.Check = SQLiError{}

// Meta implements scan.Check.
func (SQLiError) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2050", Title: "SQL injection (error-based)", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-89",
		Description: "A quote in a parameter broke the server's SQL statement (a database error appeared) and a balanced quote did not: input is concatenated into SQL.",
		Remediation: "Use parameterized queries or a query builder for every statement; never concatenate input into SQL.",
		Fix:         "request: { detect_injection: true }   # plus the contract's types and maxLength on the parameter",
		Intrusive:   true,
		// Its probes reach every body field, the login's too: failed logins
		// that count towards throttles and lockouts. It runs after the probe
		// phase, so GH2031 and GH2052 see the login first.
		Phase: scan.PhaseState,
	}
}

// Run implements scan.Check.
func (SQLiError) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range injectable(t) {
		who, p0, ok := prepareInjection(t, op)
		pts := points(p0)
		if !ok || len(pts) == 0 {
			continue
		}
		base, err := t.Send(ctx, p0, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if sqlErrRe.Match(base.Body) {
			continue
		}
	points:
		for _, pt := range pts {
			for _, q := range []string{"'", `"`} {
				p := p0.Clone()
				pt.set(p, pt.orig+q)
				ex, err := t.Send(ctx, p, who)
				if err != nil {
					if err := stopErr(ctx, err); err != nil {
						return err
					}
					break points
				}
				m := sqlErrRe.Find(ex.Body)
				if m == nil {
					continue
				}
				c := p0.Clone()
				pt.set(c, pt.orig+q+q)
				conf, err := t.Send(ctx, c, who)
				if err != nil {
					if err := stopErr(ctx, err); err != nil {
						return err
					}
					break points
				}
				if sqlErrRe.Match(conf.Body) {
					continue
				}
				report(scan.Finding{Param: pt.String(),
					Detail: fmt.Sprintf("Appending %s to %s of %s %s produced the database error %q; the balanced %s%s did not.", q, pt, op.Method, op.Template, clip(string(m), 80), q, q),
				}.At(op).With(ex, "unbalanced quote").With(conf, "balanced quotes: no error"))
				break
			}
		}
	}
	return nil
}
