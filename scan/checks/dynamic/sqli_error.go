package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
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

// point is one injectable value of a request.
type point struct {
	in, name, orig string
	// path locates a nested body string: object keys and array indexes
	// from the body's root (nil for top-level fields and parameters).
	path []any
}

func (pt point) set(p *scan.Prepared, v string) {
	switch pt.in {
	case "path":
		p.Path[pt.name] = v
	case "query":
		p.Query.Set(pt.name, v)
	case "body":
		if pt.path == nil {
			p.BodyMap()[pt.name] = v
			return
		}
		var cur any = p.Body
		for i, step := range pt.path {
			last := i == len(pt.path)-1
			switch c := cur.(type) {
			case map[string]any:
				k, _ := step.(string)
				if last {
					c[k] = v
					return
				}
				cur = c[k]
			case []any:
				n, _ := step.(int)
				if n >= len(c) {
					return
				}
				if last {
					c[n] = v
					return
				}
				cur = c[n]
			default:
				return
			}
		}
	}
}

func (pt point) String() string { return pt.in + " " + pt.name }

// maxNestedPoints bounds the nested body strings probed per operation.
const maxNestedPoints = 8

// points returns the injectable values of p: path and query parameters,
// top-level body strings, then strings nested in body objects and arrays
// (depth ≤ 4, the first item of each array, at most maxNestedPoints).
func points(p *scan.Prepared) []point {
	var out []point
	for k, v := range p.Path {
		out = append(out, point{in: "path", name: k, orig: v})
	}
	for k := range p.Query {
		out = append(out, point{in: "query", name: k, orig: p.Query.Get(k)})
	}
	body := p.BodyMap()
	for k, v := range body {
		if s, ok := v.(string); ok {
			out = append(out, point{in: "body", name: k, orig: s})
		}
	}
	nested := 0
	var walk func(v any, name string, path []any, depth int)
	walk = func(v any, name string, path []any, depth int) {
		if depth > 4 || nested >= maxNestedPoints {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k], name+"."+k, append(append([]any(nil), path...), k), depth+1)
			}
		case []any:
			if len(x) > 0 {
				walk(x[0], name+"[0]", append(append([]any(nil), path...), 0), depth+1)
			}
		case string:
			if _, inArray := path[0].(int); len(path) > 1 || inArray {
				out = append(out, point{in: "body", name: strings.TrimPrefix(name, "."), orig: x, path: path})
				nested++
			}
		}
	}
	walk(p.Body, "", nil, 0)
	return out
}

func injectable(t *scan.Target) []*openapi.Operation {
	return ops(t, func(op *openapi.Operation) bool {
		return op.Method != http.MethodDelete && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	})
}

// Run implements scan.Check.
func (SQLiError) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range injectable(t) {
		who := actor(t, op)
		p0 := t.Prepare(op, who)
		pts := points(p0)
		if len(pts) == 0 {
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
