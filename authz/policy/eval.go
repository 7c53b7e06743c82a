package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/httpx"
	"net/http"
)

// evalCtx holds one request's lazily computed views (query pairs, body
// scan, CEL input), shared by every rule of the operation.
type evalCtx struct {
	p  *Policy
	pr *authn.Principal
	r  *http.Request
	rt *gatehouse.Route
	co *compiledOp

	qDone  bool
	qPairs []qpair
	qErr   error

	bodyDone bool
	body     *bodyInfo
	bodyErr  error

	in *celpolicy.Input

	jsonDone bool
	jsonVal  any
	jsonErr  error
}

// parsedBody parses b, the request body, once per request: shared by the
// owner check and CEL, and through httpx.JSON with every other stage that
// reads the body with the same limits (Options.JSONLimits).
func (ev *evalCtx) parsedBody(b []byte) (any, error) {
	if !ev.jsonDone {
		ev.jsonDone = true
		ev.jsonVal, ev.jsonErr = strictJSON(httpx.JSON(ev.r, b, ev.p.jsonLim))
	}
	return ev.jsonVal, ev.jsonErr
}

func (ev *evalCtx) query() ([]qpair, error) {
	if !ev.qDone {
		ev.qDone = true
		ev.qPairs, ev.qErr = parseQuery(ev.r.URL.RawQuery)
	}
	return ev.qPairs, ev.qErr
}

// check returns "" when cr allows the request, else the reason.
func (ev *evalCtx) check(ctx context.Context, cr *compiledRule) string {
	if cr.public {
		return ""
	}
	pr := ev.pr
	if len(cr.roles) > 0 {
		ok := false
		for _, r := range cr.roles {
			if pr.HasRole(r) {
				ok = true
				break
			}
		}
		if !ok {
			return "missing role: need any of [" + strings.Join(cr.roles, " ") + "]"
		}
	}
	for _, r := range cr.rolesAll {
		if !pr.HasRole(r) {
			return fmt.Sprintf("missing role %q (roles_all)", r)
		}
	}
	for _, s := range cr.scopes {
		if !pr.HasScope(s) {
			return fmt.Sprintf("missing scope %q", s)
		}
	}
	if cr.owner != nil {
		if reason := ev.checkOwner(cr.owner); reason != "" {
			return reason
		}
	}
	if cr.allow != nil {
		ok, err := cr.allow.Eval(ctx, ev.input())
		if err != nil {
			return "allow: " + err.Error()
		}
		if !ok {
			return "allow expression is false"
		}
	}
	return ""
}

// input builds the CEL input once per request.
func (ev *evalCtx) input() *celpolicy.Input {
	if ev.in != nil {
		return ev.in
	}
	path := make(map[string]any, len(ev.rt.Params))
	for name, raw := range ev.rt.Params {
		t, declared := ev.co.paramTyp[name]
		if !declared {
			continue
		}
		if v, ok := typedValue(raw, t); ok {
			path[name] = v
		}
		// A value that is not the canonical spelling of its type is left
		// out: reading it in CEL is an evaluation error, hence a denial.
	}
	ev.in = &celpolicy.Input{
		Principal: ev.pr,
		Method:    ev.r.Method,
		Operation: ev.co.op.ID,
		Template:  ev.co.op.Template,
		Path:      path,
		Query:     ev.queryMap,
		Headers:   ev.r.Header,
		Body:      ev.celBody,
		IP:        ev.p.clientIP(ev.r),
		Time:      ev.p.now(),
	}
	return ev.in
}

func typedValue(raw string, t celpolicy.Type) (any, bool) {
	switch t {
	case celpolicy.Int:
		n, err := parseCanonicalInt(raw)
		return n, err == nil
	case celpolicy.Double:
		if !isJSONNumber(raw) {
			return nil, false
		}
		f, err := strconv.ParseFloat(raw, 64)
		return f, err == nil
	case celpolicy.Bool:
		switch raw {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return nil, false
	}
	return raw, true
}

func (ev *evalCtx) queryMap() (map[string][]string, error) {
	pairs, err := ev.query()
	if err != nil {
		return nil, err
	}
	m := make(map[string][]string, len(pairs))
	for _, q := range pairs {
		m[q.name] = append(m[q.name], q.value)
	}
	return m, nil
}

// celBody parses the JSON body for request.body: null when the operation
// declares no JSON body or the body is empty; an error (denial) when it is
// not JSON or repeats a key (in any case spelling) in any object.
func (ev *evalCtx) celBody() (any, error) {
	if !ev.co.op.JSONBody {
		return nil, nil
	}
	b, err := ev.readBody()
	if err != nil || len(b) == 0 {
		return nil, err
	}
	v, err := ev.parsedBody(b)
	if err != nil {
		return nil, err
	}
	return celValue(v), nil
}

// celValue converts jsonx numbers for CEL: canonical integers become int64,
// every other number float64. Maps and lists are copied, never mutated (the
// parsed document is shared with the owner check).
func celValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := parseCanonicalInt(x.String()); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(x.String(), 64)
		return f
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = celValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = celValue(e)
		}
		return l
	}
	return v
}
