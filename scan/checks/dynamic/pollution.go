package dynamic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// ParameterPollution (GH2057) sends a value twice where the API expects it
// once, and reports only an effect the single values do not have:
//
//   - duplicate JSON keys: on POST/PUT/PATCH bodies, a declared field with a
//     privileged value (an enum value such as admin, or true for an
//     admin/verified flag) is sent alone, then as {"f": benign, "f":
//     privileged} (and, when that shows nothing, in the other order). A
//     finding needs the privileged value alone to be refused or not
//     applied, and the duplicated one to show in the answer or in a
//     read-back of the object: the API checked one occurrence and stored
//     the other.
//   - repeated query parameters: on GETs, a query parameter whose values
//     name objects two identities own: A reads its own (?p=a), B its own
//     (?p=b); A alone with ?p=b must be refused (else it is plain BOLA,
//     GH2010's); then A sends ?p=a&p=b (and ?p=b&p=a). A finding needs A's
//     answer to be B's object (≥ 80% like B's own answer, unlike A's):
//     the API authorized one value and fetched the other.
//
// A status code alone is never a finding. Requests: per body field 1 +
// up to 2 plus read-backs; per query parameter 3 + up to 2.
type ParameterPollution struct{}

var _ scan.Check = ParameterPollution{}

// Meta implements scan.Check.
func (ParameterPollution) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2057", Title: "Parameter pollution: a duplicated JSON key or repeated query parameter bypasses a check", Category: "injection",
		Severity: scan.High, OWASP: scan.API8Misconfig, CWE: "CWE-235",
		Description: "The API checked one occurrence of a duplicated JSON key or repeated query parameter and acted on the other: a value it refuses alone got through when sent twice.",
		Remediation: "Refuse requests with duplicate JSON keys and repeated single-valued parameters, or read exactly one occurrence with the same parser wherever the value is checked and used.",
		Fix:         "request: { validate: true }   # duplicate JSON keys are refused (400) before the API sees them",
		Intrusive:   true,
		// It writes objects (creates, updates on the prober's own object),
		// as mass assignment does.
		Phase: scan.PhaseState,
	}
}

// Run implements scan.Check.
func (ParameterPollution) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	if err := pollutionJSON(ctx, t, report); err != nil {
		return err
	}
	return pollutionQuery(ctx, t, report)
}

var privilegedValues = map[string]bool{"admin": true, "administrator": true, "superuser": true, "root": true, "owner": true, "staff": true, "moderator": true, "superadmin": true}

var privilegedFlagRe = strings.NewReplacer("_", "", "-", "")

// pollutionField is a body field with a value the API should accept
// (benign) and one it should refuse from this caller (privileged).
type pollutionField struct {
	name         string
	benign, priv any
}

// pollutionFields lists the declared, writable body fields with a
// privileged value: an enum holding one (role: [user, admin]), or a boolean
// admin/verified flag.
func pollutionFields(bs *base.Schema) []pollutionField {
	if bs == nil || bs.Properties == nil {
		return nil
	}
	var out []pollutionField
	for name, ps := range openapi.Properties(bs) {
		x := scan.SchemaOf(ps)
		if x == nil || x.ReadOnly != nil && *x.ReadOnly {
			continue
		}
		if len(x.Enum) > 0 {
			var benign, priv any
			for _, n := range x.Enum {
				var v any
				if n.Decode(&v) != nil {
					continue
				}
				if s, ok := v.(string); ok && privilegedValues[strings.ToLower(s)] {
					if priv == nil {
						priv = v
					}
				} else if benign == nil {
					benign = v
				}
			}
			if benign != nil && priv != nil {
				out = append(out, pollutionField{name, benign, priv})
			}
			continue
		}
		switch privilegedFlagRe.Replace(strings.ToLower(name)) {
		case "isadmin", "admin", "verified", "emailverified", "isverified", "issuperuser", "isstaff":
			if hasType(x, "boolean") {
				out = append(out, pollutionField{name, false, true})
			}
		}
	}
	return out
}

// dupBody encodes body with field name first set to first and then,
// as a duplicate key at the end, to second.
func dupBody(body map[string]any, name string, first, second any) []byte {
	m := make(map[string]any, len(body))
	for k, v := range body {
		m[k] = v
	}
	m[name] = first
	b, _ := json.Marshal(m)
	k, _ := json.Marshal(name)
	v, _ := json.Marshal(second)
	b = bytes.TrimSuffix(b, []byte("}"))
	return append(append(append(append(append(b, ','), k...), ':'), v...), '}')
}

// fieldIs reports whether the JSON object in b has field name equal to v.
func fieldIs(b []byte, name string, v any) bool {
	m := jsonObject(b)
	if m == nil {
		return false
	}
	got, ok := m[name]
	if !ok {
		return false
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(v)
	return bytes.Equal(gb, wb)
}

// itemRead returns the GET on op's path (PUT/PATCH) or on op's path plus
// one parameter (POST), and that parameter ("" for the same path).
func itemRead(t *scan.Target, op *openapi.Operation) (*openapi.Operation, string) {
	for _, o := range t.Spec.Operations {
		if o.Method != http.MethodGet {
			continue
		}
		if op.Method != http.MethodPost && o.Template == op.Template {
			return o, ""
		}
		rest, ok := strings.CutPrefix(o.Template, op.Template+"/{")
		if op.Method == http.MethodPost && ok && strings.HasSuffix(rest, "}") && !strings.ContainsAny(rest[:len(rest)-1], "/{}") {
			return o, rest[:len(rest)-1]
		}
	}
	return nil, ""
}

// pollutionShows reports where the field took value v after p was answered
// by ex: in the answer, or in a read-back of the object as who.
func pollutionShows(ctx context.Context, t *scan.Target, p *scan.Prepared, ex *scan.Exchange, who *scan.Identity, f pollutionField, v any) (string, *scan.Exchange, error) {
	if !granted(ex) {
		return "", nil, nil
	}
	if fieldIs(ex.Body, f.name, v) {
		return "the answer", ex, nil
	}
	read, param := itemRead(t, p.Op)
	if read == nil {
		return "", nil, nil
	}
	rp := t.Prepare(read, who)
	for k, val := range p.Path {
		rp.Path[k] = val
	}
	if param != "" {
		m := jsonObject(ex.Body)
		id := ""
		for k, val := range m {
			if s := fmt.Sprint(val); val != nil && (strings.EqualFold(k, "id") || scan.ParamNames(param, k)) {
				id = s
			}
		}
		if id == "" {
			return "", nil, nil
		}
		rp.Path[param] = id
	}
	back, err := t.Send(ctx, rp, who)
	if err != nil {
		return "", nil, stopErr(ctx, err)
	}
	if granted(back) && fieldIs(back.Body, f.name, v) {
		return "a read-back (" + read.Method + " " + read.Template + ")", back, nil
	}
	return "", nil, nil
}

func pollutionJSON(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return (op.Method == http.MethodPost || op.Method == http.MethodPut || op.Method == http.MethodPatch) &&
			!scan.IsLogin(op) && !scan.IsLogout(op) && !scan.LooksAdmin(op) && t.Client.Allowed(op.Method)
	}) {
		who, p0, ok := prepareInjection(t, op)
		if !ok || p0.BodyMap() == nil {
			continue
		}
	fields:
		for _, f := range pollutionFields(bodySchema(op)) {
			single := fresh(t, p0, who)
			single.BodyMap()[f.name] = f.priv
			ex1, err := t.Send(ctx, single, who)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				continue
			}
			where, _, err := pollutionShows(ctx, t, single, ex1, who, f, f.priv)
			if err != nil {
				return err
			}
			if where != "" {
				continue // taken alone: allowed, or GH2022's mass assignment
			}
			for _, order := range [][2]any{{f.benign, f.priv}, {f.priv, f.benign}} {
				dup := fresh(t, p0, who)
				dup.BodyMap()[f.name] = f.priv
				dup.RawBody = dupBody(dup.BodyMap(), f.name, order[0], order[1])
				ex2, err := t.Send(ctx, dup, who)
				if err != nil {
					if err := stopErr(ctx, err); err != nil {
						return err
					}
					continue fields
				}
				where, shown, err := pollutionShows(ctx, t, dup, ex2, who, f, f.priv)
				if err != nil {
					return err
				}
				if where == "" {
					continue
				}
				if op.Method != http.MethodPost { // put the benign value back
					restore := fresh(t, p0, who)
					restore.BodyMap()[f.name] = f.benign
					if _, err := t.Send(ctx, restore, who); stopErr(ctx, err) != nil {
						return err
					}
				}
				fb, _ := json.Marshal(f.priv)
				report(scan.Finding{
					Param: "body " + f.name,
					Key:   "json",
					Detail: fmt.Sprintf("%s %s: %s=%s alone was refused or not applied (%d), but the body %s (a duplicate key) answered %d and %s shows %s=%s: the API checked one occurrence and stored the other.",
						op.Method, op.Template, f.name, fb, ex1.Status, clip(string(dup.RawBody), 160), ex2.Status, where, f.name, fb),
				}.At(op).With(ex1, "privileged value alone").With(ex2, "duplicate key").With(shown, "where it shows"))
				break fields
			}
		}
	}
	return nil
}

func pollutionQuery(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	users := t.Users()
	if len(users) < 2 {
		return nil
	}
	a, b := users[0], users[1]
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodGet && !scan.IsLogin(op) && !scan.IsLogout(op) && !scan.LooksAdmin(op)
	}) {
		for _, prm := range openapi.Params(op) {
			if prm == nil || !strings.EqualFold(prm.In, "query") {
				continue
			}
			if s := scan.SchemaOf(prm.Schema); s != nil && hasType(s, "array", "object") {
				continue // repeating an array parameter is its normal form
			}
			va, vb := firstOf(t.OwnedParam(op, prm.Name, a)), ""
			for _, v := range t.OwnedParam(op, prm.Name, b) {
				if v != va && !contains(t.OwnedParam(op, prm.Name, a), v) {
					vb = v
					break
				}
			}
			if va == "" || vb == "" {
				continue
			}
			send := func(id *scan.Identity, vals ...string) (*scan.Exchange, error) {
				p := t.Prepare(op, id)
				p.Query.Del(prm.Name)
				for _, v := range vals {
					p.Query.Add(prm.Name, v)
				}
				ex, err := t.Send(ctx, p, id)
				if err != nil {
					return nil, stopErr(ctx, err)
				}
				return ex, nil
			}
			own, err := send(a, va)
			if err != nil {
				return err
			}
			theirs, err := send(b, vb)
			if err != nil {
				return err
			}
			if own == nil || theirs == nil || !granted(own) || !granted(theirs) || scan.Similarity(own.Body, theirs.Body) >= sameObject {
				continue // the value does not select what is answered
			}
			single, err := send(a, vb)
			if err != nil {
				return err
			}
			if single == nil || granted(single) {
				continue // refused to nobody: plain BOLA, GH2010's
			}
			for _, order := range [][2]string{{va, vb}, {vb, va}} {
				ex, err := send(a, order[0], order[1])
				if err != nil {
					return err
				}
				if ex == nil || !granted(ex) || scan.Similarity(ex.Body, theirs.Body) < sameObject || scan.Similarity(ex.Body, own.Body) >= sameObject {
					continue
				}
				report(scan.Finding{
					Param: "query " + prm.Name,
					Key:   "query",
					Detail: fmt.Sprintf("%s %s: identity %s alone with %s=%s (identity %s's) was refused (%d), but %s=%s&%s=%s answered %d with %s's object: the API authorized one value and fetched the other.",
						op.Method, op.Template, a.Name, prm.Name, vb, b.Name, single.Status, prm.Name, order[0], prm.Name, order[1], ex.Status, b.Name),
				}.At(op).With(single, "the other identity's value alone").With(ex, "the value repeated"))
				break
			}
		}
	}
	return nil
}

func firstOf(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}
