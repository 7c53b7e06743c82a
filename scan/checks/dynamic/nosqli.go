package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// NoSQLInjection (GH2052) sends MongoDB-style query operators where the API
// expects strings and reports only a proven bypass:
//
//   - login: a known username with a wrong password fails, while the same
//     username with the password {"$ne": null}, then {"$gt": ""}, succeeds;
//   - query parameters (points): param[$ne]=<no match> answers more JSON items than
//     both param=<no match> and the control param[ghscan]=<no match>
//     (an API that ignores bracketed parameters answers the control with
//     the same unfiltered list, so it is not reported), twice;
//   - string properties of JSON bodies, top-level and nested (POST, PUT,
//     PATCH; points): {"f": {"$ne": <no match>}} judged the same way
//     against {"f": <no match>} and the control {"f": {"ghscan": <no
//     match>}}, on operations whose valid answer is a list.
type NoSQLInjection struct{}

var _ scan.Check = NoSQLInjection{}

// Meta implements scan.Check.
func (NoSQLInjection) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2052", Title: "NoSQL operator injection", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-943",
		Description: "Query operators ($ne, $gt) sent in place of a string reached the database query: authentication or filters can be bypassed.",
		Remediation: "Accept only the declared type for each input (a string must be a string) and build queries with typed values, never with request objects.",
		Fix:         "request: { validate: true, detect_injection: true }",
		Intrusive:   true,
		// The login probe sends one failed login: a probe, run alone before
		// state changes and bursts so throttling does not hide the bypass.
		Phase: scan.PhaseProbe,
	}
}

// items counts the elements of a JSON answer: the array's length, or the
// length of the first array property of an object; -1 when not JSON.
func items(b []byte) int {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return -1
	}
	switch x := v.(type) {
	case []any:
		return len(x)
	case map[string]any:
		for _, e := range x {
			if a, ok := e.([]any); ok {
				return len(a)
			}
		}
		return 1
	}
	return 1
}

// Run implements scan.Check.
func (NoSQLInjection) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	if err := nosqlLogin(ctx, t, report); err != nil {
		return err
	}
	return nosqlPoints(ctx, t, report)
}

// nosqlNoMatch is the plain value no object matches.
const nosqlNoMatch = "ghscan-nomatch-zq"

// nosqlPoints probes the query and body points of every injectable
// operation but the login (points: query parameters, top-level and nested
// body strings of POST, PUT and PATCH; free-form strings without a
// format), one at a time, the rest of the request valid. The operation's
// valid answer must be a JSON list (an operation answering one object,
// a create or an update, cannot show a filter bypass: 1 request and
// nothing more). Then, per point: the plain value <no match> is the base;
// the operator (param[$ne]=<no match> in a query, {"$ne": <no match>} in
// a body) must answer more items than the base, twice, and more than the
// control (param[ghscan]=, {"ghscan": ...}), which an API that ignores
// what it did not expect answers like the operator: 4 requests per point.
func nosqlPoints(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range injectable(t) {
		if scan.IsLogin(op) {
			continue
		}
		id, p0, ok := prepareInjection(t, op)
		if !ok {
			continue
		}
		var pts []point
		for _, pt := range points(p0) {
			if (pt.in == "query" || pt.in == "body") && (pt.schema == nil || freeString(pt.schema, true)) {
				pts = append(pts, pt)
			}
		}
		if len(pts) == 0 {
			continue
		}
		valid, err := t.Send(ctx, fresh(t, p0, id), id)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if !granted(valid) || !isList(valid.Body) {
			continue
		}
		for _, pt := range pts {
			// send sends the point as the plain value (op == ""), as an
			// operator or as the control.
			send := func(op string) (*scan.Exchange, error) {
				p := fresh(t, p0, id)
				switch {
				case op == "":
					pt.set(p, nosqlNoMatch)
				case pt.in == "query":
					p.Query.Del(pt.name)
					p.Query.Set(pt.name+"["+op+"]", nosqlNoMatch)
				default:
					pt.set(p, map[string]any{op: nosqlNoMatch})
				}
				ex, err := t.Send(ctx, p, id)
				if err != nil {
					return nil, stopErr(ctx, err)
				}
				return ex, nil
			}
			base, err := send("")
			if err != nil {
				return err
			}
			if base == nil || !granted(base) || items(base.Body) < 0 {
				continue
			}
			var inj *scan.Exchange
			confirmed := true
			for range 2 {
				ex, err := send("$ne")
				if err != nil {
					return err
				}
				if ex == nil || !granted(ex) || items(ex.Body) <= items(base.Body) {
					confirmed = false
					break
				}
				inj = ex
			}
			if !confirmed {
				continue
			}
			ctl, err := send("ghscan")
			if err != nil {
				return err
			}
			if ctl == nil || granted(ctl) && items(ctl.Body) >= items(inj.Body) {
				continue // the operator is ignored: the list is just unfiltered
			}
			form := fmt.Sprintf("{%q: {\"$ne\": %q}}", pt.name, nosqlNoMatch)
			plain := fmt.Sprintf("{%q: %q}", pt.name, nosqlNoMatch)
			control := fmt.Sprintf("{%q: {\"ghscan\": %q}}", pt.name, nosqlNoMatch)
			if pt.in == "query" {
				form = pt.name + "[$ne]=" + nosqlNoMatch
				plain = pt.name + "=" + nosqlNoMatch
				control = pt.name + "[ghscan]=" + nosqlNoMatch
			}
			report(scan.Finding{
				Param: pt.String(),
				Detail: fmt.Sprintf("%s %s: %s answered %d items (twice), %s answered %d and the control %s answered %d: the operator reached the query.",
					op.Method, op.Template, form, items(inj.Body), plain, items(base.Body), control, items(ctl.Body)),
			}.At(op).With(base, "plain value").With(inj, "operator injected"))
		}
	}
	return nil
}

// isList reports whether a JSON answer is a list: an array, or an object
// with an array property.
func isList(b []byte) bool {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	switch x := v.(type) {
	case []any:
		return true
	case map[string]any:
		for _, e := range x {
			if _, ok := e.([]any); ok {
				return true
			}
		}
	}
	return false
}

// nosqlLogin tries {"$ne": null} and {"$gt": ""} as the password of a known
// login identity's username.
func nosqlLogin(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool { return scan.IsLogin(op) && op.Method == http.MethodPost }) {
		var known map[string]string
		for _, id := range t.Identities {
			if id.LoginOp == op.ID {
				if u, p := loginFields(id.LoginFields); u != "" && p != "" {
					known = id.LoginFields
					break
				}
			}
		}
		if known == nil {
			continue
		}
		_, passF := loginFields(known)
		with := func(pw any) *scan.Prepared {
			p := t.LoginRequest(op, known)
			p.BodyMap()[passF] = pw
			return p
		}
		base, err := t.Send(ctx, with("ghscan-Wrong-Pw-nosql"), nil)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if base.OK() || rateLimited(base) {
			continue
		}
		var last *scan.Exchange
		ok := true
		for _, pw := range []any{map[string]any{"$ne": nil}, map[string]any{"$gt": ""}} {
			ex, err := t.Send(ctx, with(pw), nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				ok = false
				break
			}
			if !granted(ex) {
				ok = false
				break
			}
			last = ex
		}
		if !ok {
			continue
		}
		report(scan.Finding{
			Param:  "body " + passF,
			Detail: fmt.Sprintf("%s %s: a wrong password answered %d, while the password {\"$ne\": null} and then {\"$gt\": \"\"} logged in (%d): authentication bypass.", op.Method, op.Template, base.Status, last.Status),
		}.At(op).With(base, "wrong password").With(last, "operator as password"))
	}
	return nil
}
