package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// MassAssignment (GH2022) sends create/update operations twice: once with a
// valid body, once with extra privileged properties the request schema does
// not declare as writable (role, is_admin, balance, ... and the response
// schema's readOnly properties). A property whose injected value shows up in
// the answer (or in a read-back of the object) and did not in the valid
// request's answer was persisted: a finding. It tries to restore the
// original value afterwards.
type MassAssignment struct{}

var _ scan.Check = MassAssignment{}

// Meta implements scan.Check.
func (MassAssignment) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2022", Title: "Mass assignment: undeclared or read-only property persisted", Category: "mass-assignment",
		Severity: scan.High, OWASP: scan.API3Property, CWE: "CWE-915",
		Description: "The API stored a property the client must not set (a role, an admin flag, a balance) because it binds request bodies straight onto its model.",
		Remediation: "Bind requests to explicit input DTOs that list writable fields; reject unknown properties.",
		Fix:         "request: { reject_unknown_properties: true }   # readOnly properties are refused (400) whenever request validation is on",
		Intrusive:   true,
		Phase:       scan.PhaseState,
	}
}

var privilegedProps = []struct {
	name string
	val  any
}{
	{"role", "admin"}, {"roles", []any{"admin"}}, {"is_admin", true}, {"isAdmin", true}, {"admin", true},
	{"balance", 1000000}, {"credit", 1000000}, {"verified", true}, {"email_verified", true},
	{"permissions", []any{"*"}}, {"owner_id", 987654321},
}

// Run implements scan.Check.
func (MassAssignment) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		switch op.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			return false
		}
		return !scan.IsLogin(op) && !scan.IsLogout(op) && !scan.LooksAdmin(op)
	}) {
		if !t.Client.Allowed(op.Method) {
			continue
		}
		if err := massAssign(ctx, t, op, report); err != nil {
			return err
		}
	}
	return nil
}

func massAssign(ctx context.Context, t *scan.Target, op *openapi.Operation, report func(scan.Finding)) error {
	who := actor(t, op)
	base := t.Prepare(op, who)
	if base.BodyMap() == nil {
		return nil
	}
	writable := map[string]bool{}
	if rb := openapi.Op(op).RequestBody; rb != nil && rb.Content != nil {
		for ct, mt := range rb.Content.FromOldest() {
			if strings.Contains(ct, "json") {
				if s := scan.SchemaOf(mt.Schema); s != nil && s.Properties != nil {
					for k, ps := range openapi.Properties(s) {
						if x := scan.SchemaOf(ps); x == nil || x.ReadOnly == nil || !*x.ReadOnly {
							writable[k] = true
						}
					}
				}
			}
		}
	}
	inject := map[string]any{}
	for _, c := range privilegedProps {
		if !writable[c.name] {
			inject[c.name] = c.val
		}
	}
	if rs := scan.ResponseSchema(op, 200); rs != nil || scan.ResponseSchema(op, 201) != nil {
		if rs == nil {
			rs = scan.ResponseSchema(op, 201)
		}
		if rs.Properties != nil {
			for k, ps := range openapi.Properties(rs) {
				x := scan.SchemaOf(ps)
				if x == nil || x.ReadOnly == nil || !*x.ReadOnly || writable[k] || strings.EqualFold(k, "id") {
					continue
				}
				if _, ok := inject[k]; ok {
					continue
				}
				switch {
				case len(x.Enum) > 0:
					var v any
					if x.Enum[len(x.Enum)-1].Decode(&v) == nil {
						inject[k] = v
					}
				case len(x.Type) > 0 && x.Type[0] == "boolean":
					inject[k] = true
				case len(x.Type) > 0 && (x.Type[0] == "integer" || x.Type[0] == "number"):
					inject[k] = 987654
				case len(x.Type) > 0 && x.Type[0] == "string":
					inject[k] = "ghscan-injected"
				}
			}
		}
	}
	if len(inject) == 0 {
		return nil
	}
	// A registration names a new account each time (the example's account,
	// or the last scan's, exists already and would refuse both).
	var ruser, rpass string
	if op.Method == http.MethodPost {
		if login, luser, lpass := scanLogin(t); login != nil {
			if ruser, rpass = registrationFields(base.BodyMap(), luser, lpass); ruser != "" {
				freshAccount(base.BodyMap(), ruser, rpass, false)
			}
		}
	}
	exBase, err := t.Send(ctx, base, who)
	if err != nil {
		return stopErr(ctx, err)
	}
	if !exBase.OK() {
		return nil
	}
	inj := t.Prepare(op, who)
	body := inj.BodyMap()
	if ruser != "" {
		freshAccount(body, ruser, rpass, false)
	}
	for k, v := range inject {
		body[k] = v
	}
	exInj, err := t.Send(ctx, inj, who)
	if err != nil {
		return stopErr(ctx, err)
	}
	if !exInj.OK() {
		return nil
	}
	objBase, objInj := jsonObject(exBase.Body), jsonObject(exInj.Body)
	evidence := exInj
	persisted := persistedProps(inject, objBase, objInj)
	if len(persisted) == 0 {
		// Read the object back when the answer does not echo it.
		if rb, p := readBack(t, op, inj, objInj, who); rb != nil {
			ex, err := t.Send(ctx, p, who)
			if err != nil {
				return stopErr(ctx, err)
			}
			if ex.OK() {
				persisted = persistedProps(inject, objBase, jsonObject(ex.Body))
				evidence = ex
			}
		}
	}
	if len(persisted) == 0 && op.Method == http.MethodPost {
		// A registration: log in as the new account and look where the
		// effect shows (its token, its "me", an administrative operation).
		var how string
		var err error
		persisted, evidence, how, err = newAccountEffect(ctx, t, op, base, inj, inject)
		if err != nil || len(persisted) == 0 {
			return err
		}
		sort.Strings(persisted)
		report(scan.Finding{Param: persisted[0], Key: join(persisted),
			Detail: fmt.Sprintf("%s %s accepted %s sent by %s although the request schema does not allow %s: %s.",
				op.Method, op.Template, describe(persisted, inject), whoName(who), plural(persisted), how),
		}.At(op).With(exInj, "request with injected properties").With(evidence, "the effect, as the new account"))
		return nil
	}
	if len(persisted) == 0 {
		return nil
	}
	sort.Strings(persisted)
	report(scan.Finding{Param: persisted[0], Key: join(persisted),
		Detail: fmt.Sprintf("%s %s persisted %s sent by %s although the request schema does not allow %s.",
			op.Method, op.Template, describe(persisted, inject), whoName(who), plural(persisted)),
	}.At(op).With(exInj, "request with injected properties").With(evidenceIfDifferent(evidence, exInj), "read back"))
	// Restore what can be restored on updates (best effort).
	if op.Method != http.MethodPost {
		restore := t.Prepare(op, who)
		rb := restore.BodyMap()
		for _, k := range persisted {
			if v, ok := objBase[k]; ok {
				rb[k] = v
			}
		}
		_, _ = t.Send(ctx, restore, who)
	}
	return nil
}

func evidenceIfDifferent(a, b *scan.Exchange) *scan.Exchange {
	if a == b {
		return nil
	}
	return a
}

func readBack(t *scan.Target, op *openapi.Operation, inj *scan.Prepared, obj map[string]any, who *scan.Identity) (*openapi.Operation, *scan.Prepared) {
	for _, g := range t.Spec.Operations {
		if g.Method != http.MethodGet {
			continue
		}
		if op.Method != http.MethodPost && g.Template == op.Template {
			p := t.Prepare(g, who)
			for k, v := range inj.Path {
				p.Path[k] = v
			}
			return g, p
		}
		if op.Method == http.MethodPost && strings.HasPrefix(g.Template, op.Template+"/{") && strings.Count(g.Template[len(op.Template):], "/") == 1 {
			id := fmt.Sprint(obj["id"])
			if obj["id"] == nil {
				return nil, nil
			}
			p := t.Prepare(g, who)
			p.Path[strings.Trim(g.Template[len(op.Template)+1:], "{}")] = id
			return g, p
		}
	}
	return nil, nil
}

func persistedProps(inject, base, got map[string]any) []string {
	var out []string
	for k, v := range inject {
		gv, ok := got[k]
		if !ok || !sameJSON(gv, v) {
			continue
		}
		if bv, ok := base[k]; ok && sameJSON(bv, v) {
			continue
		}
		out = append(out, k)
	}
	return out
}

func describe(props []string, inject map[string]any) string {
	parts := make([]string, len(props))
	for i, p := range props {
		b, _ := json.Marshal(inject[p])
		parts[i] = fmt.Sprintf("%s=%s", p, b)
	}
	return join(parts)
}

func plural(xs []string) string {
	if len(xs) == 1 {
		return "it"
	}
	return "them"
}

func jsonObject(b []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var xa, ya any
	_ = json.Unmarshal(x, &xa)
	_ = json.Unmarshal(y, &ya)
	x, _ = json.Marshal(xa)
	y, _ = json.Marshal(ya)
	return string(x) == string(y)
}

func whoName(id *scan.Identity) string {
	if id == nil {
		return "an anonymous caller"
	}
	return "identity " + id.Name
}

// newAccountEffect logs in as the accounts registered by base (plain) and
// inj (with the injected properties), through the login operation of the
// scan's login identities, and compares what each sees: the token's
// claims, every "me"-style read, and administrative reads (a privileged
// operation that the injected account may call and the plain one may
// not). It returns the injected properties whose effect shows, the
// evidence and where it showed; nothing when op is not a registration
// (no user-like and password-like fields) or no login works.
func newAccountEffect(ctx context.Context, t *scan.Target, op *openapi.Operation, base, inj *scan.Prepared, inject map[string]any) ([]string, *scan.Exchange, string, error) {
	login, luser, lpass := scanLogin(t)
	if login == nil {
		return nil, nil, "", nil
	}
	logIn := func(reg *scan.Prepared) (string, error) {
		body := reg.BodyMap()
		ruser, rpass := registrationFields(body, luser, lpass)
		if ruser == "" {
			return "", nil
		}
		p := t.Prepare(login, nil)
		b := p.BodyMap()
		if b == nil {
			b = map[string]any{}
			p.Body = b
		}
		b[luser], b[lpass] = body[ruser], body[rpass]
		ex, err := t.Send(ctx, p, nil)
		if err != nil {
			return "", stopErr(ctx, err)
		}
		if !ex.OK() {
			return "", nil
		}
		return scan.FindToken(ex.Body), nil
	}
	tokInj, err := logIn(inj)
	if err != nil || tokInj == "" {
		return nil, nil, "", err
	}
	tokBase, err := logIn(base)
	if err != nil || tokBase == "" {
		return nil, nil, "", err
	}
	ji, _ := scan.ParseJWT(tokInj)
	jb, _ := scan.ParseJWT(tokBase)
	if ji != nil && jb != nil {
		if got := persistedProps(inject, jb.Claims, ji.Claims); len(got) > 0 {
			return got, nil, "the new account's token carries " + plural(got), nil
		}
	}
	// Each account reads its own record: "me" operations, and reads whose
	// one path parameter is user-like (GET /users/{username}) filled with
	// the account's own name.
	nameOf := func(reg *scan.Prepared) string {
		u, _ := registrationFields(reg.BodyMap(), luser, lpass)
		v, _ := reg.BodyMap()[u].(string)
		return v
	}
	for _, g := range t.Spec.Operations {
		params := pathParamRe.FindAllStringSubmatch(g.Template, -1)
		self := len(params) == 1 && scan.IdentityParam(params[0][1]) && g.Method == http.MethodGet
		if !scan.IsMe(g) && !self {
			continue
		}
		pi, pb := t.Prepare(g, nil), t.Prepare(g, nil)
		if self {
			pi.Path[params[0][1]], pb.Path[params[0][1]] = nameOf(inj), nameOf(base)
		}
		exI, err := t.Client.Do(ctx, t.WithToken(pi, tokInj))
		if err != nil {
			return nil, nil, "", stopErr(ctx, err)
		}
		exB, err := t.Client.Do(ctx, t.WithToken(pb, tokBase))
		if err != nil {
			return nil, nil, "", stopErr(ctx, err)
		}
		if exI.OK() && exB.OK() {
			if got := persistedProps(inject, jsonObject(exB.Body), jsonObject(exI.Body)); len(got) > 0 {
				return got, exI, fmt.Sprintf("after logging in, the new account's %s %s shows %s", g.Method, g.Template, plural(got)), nil
			}
		}
	}
	for _, g := range t.Spec.Operations {
		if g.Method != http.MethodGet || !scan.LooksAdmin(g) || strings.Contains(g.Template, "{") {
			continue
		}
		exB, err := t.Client.Do(ctx, t.WithToken(t.Prepare(g, nil), tokBase))
		if err != nil {
			return nil, nil, "", stopErr(ctx, err)
		}
		if granted(exB) {
			continue // open to a plain account: GH2011's finding
		}
		exI, err := t.Client.Do(ctx, t.WithToken(t.Prepare(g, nil), tokInj))
		if err != nil {
			return nil, nil, "", stopErr(ctx, err)
		}
		if granted(exI) {
			var all []string
			for k := range inject {
				all = append(all, k)
			}
			sort.Strings(all)
			return all, exI, fmt.Sprintf("the new account may call the administrative %s %s (%d), an account registered without them may not (%d)", g.Method, g.Template, exI.Status, exB.Status), nil
		}
	}
	return nil, nil, "", nil
}
