package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// NoSQLInjection (GH2052) sends MongoDB-style query operators where the API
// expects strings and reports only a proven bypass:
//
//   - login: a known username with a wrong password fails, while the same
//     username with the password {"$ne": null}, then {"$gt": ""}, succeeds;
//   - query parameters: param[$ne]=<no match> answers more JSON items than
//     both param=<no match> and the control param[ghscan]=<no match>
//     (an API that ignores bracketed parameters answers the control with
//     the same unfiltered list, so it is not reported), twice;
//   - string properties of POST JSON bodies: {"f": {"$ne": <no match>}}
//     judged the same way against {"f": <no match>} and the control
//     {"f": {"ghscan": <no match>}}.
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
	for _, op := range ops(t, func(op *openapi.Operation) bool { return op.Method == http.MethodGet && !scan.IsLogout(op) }) {
		for _, prm := range op.Params {
			if prm == nil || !strings.EqualFold(prm.In, "query") {
				continue
			}
			if s := scan.SchemaOf(prm.Schema); s == nil || !hasType(s, "string") || len(s.Enum) > 0 || s.Format != "" {
				continue
			}
			id := actor(t, op)
			nomatch := "ghscan-nomatch-zq"
			send := func(key string) (*scan.Exchange, error) {
				p := t.Prepare(op, id)
				p.Query.Del(prm.Name)
				p.Query.Set(key, nomatch)
				ex, err := t.Send(ctx, p, id)
				if err != nil {
					return nil, stopErr(ctx, err)
				}
				return ex, nil
			}
			base, err := send(prm.Name)
			if err != nil {
				return err
			}
			if base == nil || !granted(base) || items(base.Body) < 0 {
				continue
			}
			var inj *scan.Exchange
			confirmed := true
			for range 2 {
				ex, err := send(prm.Name + "[$ne]")
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
			ctl, err := send(prm.Name + "[ghscan]")
			if err != nil {
				return err
			}
			if ctl == nil || granted(ctl) && items(ctl.Body) >= items(inj.Body) {
				continue // bracketed parameters are ignored: the list is just unfiltered
			}
			report(scan.Finding{
				Param:  "query " + prm.Name,
				Detail: fmt.Sprintf("%s %s: %s[$ne]=%s answered %d items (twice), %s=%s answered %d and the control %s[ghscan]=%s answered %d: the operator reached the query.", op.Method, op.Template, prm.Name, nomatch, items(inj.Body), prm.Name, nomatch, items(base.Body), prm.Name, nomatch, items(ctl.Body)),
			}.At(op).With(base, "plain value").With(inj, "operator injected"))
		}
	}
	return nosqlBody(ctx, t, report)
}

// nosqlBody probes the top-level string properties of POST JSON bodies
// (login and logout excepted, one property at a time, the rest valid):
// {"f": {"$ne": <no match>}} must answer more JSON items than
// {"f": <no match>}, twice, and more than the control
// {"f": {"ghscan": <no match>}}, which an API that ignores objects it did
// not expect answers like the operator.
func nosqlBody(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	const nomatch = "ghscan-nomatch-zq"
	for _, sp := range stringPoints(t, true) {
		if sp.in != "body" {
			continue
		}
		op, id := sp.op, actor(t, sp.op)
		send := func(v any) (*scan.Exchange, error) {
			p := t.Prepare(op, id)
			if p.BodyMap() == nil {
				return nil, nil
			}
			sp.set(p, v)
			ex, err := t.Send(ctx, p, id)
			if err != nil {
				return nil, stopErr(ctx, err)
			}
			return ex, nil
		}
		base, err := send(nomatch)
		if err != nil {
			return err
		}
		if base == nil || !granted(base) || items(base.Body) < 0 {
			continue
		}
		var inj *scan.Exchange
		confirmed := true
		for range 2 {
			ex, err := send(map[string]any{"$ne": nomatch})
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
		ctl, err := send(map[string]any{"ghscan": nomatch})
		if err != nil {
			return err
		}
		if ctl == nil || granted(ctl) && items(ctl.Body) >= items(inj.Body) {
			continue
		}
		report(scan.Finding{
			Param: sp.String(),
			Detail: fmt.Sprintf("%s %s: {%q: {\"$ne\": %q}} answered %d items (twice), {%q: %q} answered %d and the control {%q: {\"ghscan\": %q}} answered %d: the operator reached the query.",
				op.Method, op.Template, sp.name, nomatch, items(inj.Body), sp.name, nomatch, items(base.Body), sp.name, nomatch, items(ctl.Body)),
		}.At(op).With(base, "plain value").With(inj, "operator injected"))
	}
	return nil
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
			p := t.Prepare(op, nil)
			b := p.BodyMap()
			if b == nil {
				b = map[string]any{}
				p.Body = b
			}
			for k, v := range known {
				b[k] = v
			}
			b[passF] = pw
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
