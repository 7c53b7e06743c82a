package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/authz/policy"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/openapi"
)

// buildAuthz compiles the authz stage; a nil Middleware means the stage is
// off (it never is: with no rules the default stance still applies). Rules
// are compiled against the spec here, so a CEL type error or a rule key that
// matches no operation fails Build (and `gatehouse validate`) with the key
// path authz.rules.<key>[.<field>]. Operations whose effective rule is public
// are logged as a warning; AuthzPublicOperations returns them for validate.
func (b *builder) buildAuthz(ctx context.Context) (gatehouse.Middleware, error) {
	pol, err := compileAuthz(b.cfg, b.spec, b)
	if err != nil {
		return nil, err
	}
	if pub := pol.PublicOperations(); len(pub) > 0 {
		b.log.Warn("operations open to anonymous callers", "component", "authz", "operations", strings.Join(pub, ","))
	}
	for _, id := range unenforcedOwnerFields(b.cfg, b.spec) {
		b.log.Warn("operation declares "+OwnerFieldExtension+" but no authz rule enforces it (add owner_response)",
			"component", "authz", "operation", id)
	}
	return pol.Middleware, nil
}

// AuthzPublicOperations compiles cfg's authz rules against spec and returns
// the operations whose effective rule lets anonymous callers in (for
// `gatehouse validate` to print as warnings), or the located compile error.
func AuthzPublicOperations(cfg *config.Config, spec *openapi.Spec) ([]string, error) {
	pol, err := compileAuthz(cfg, spec, nil)
	if err != nil {
		return nil, err
	}
	return pol.PublicOperations(), nil
}

func compileAuthz(cfg *config.Config, spec *openapi.Spec, b *builder) (*policy.Policy, error) {
	if spec == nil {
		return nil, config.AtPath("authz", errors.New("authorization needs the spec's operations"))
	}
	ac := &cfg.Authz
	stance, err := policy.ParseStance(ac.Default)
	if err != nil {
		return nil, config.AtPath("authz.default", err)
	}
	opts := policy.Options{
		Default:    stance,
		Operations: AuthzOperations(spec),
		MaxBody:    int64(cfg.Limits.MaxBody),
		JSONLimits: requestJSONLimits(&cfg.Request),
		// owner_response buffers responses as the response filter does.
		MaxResponseBody: int64(cfg.Response.MaxBody),
		Challenge:       `Bearer realm="gatehouse"`, // as the authn stage answers
		CEL:             celpolicy.Options{CostLimit: ac.CELCostLimit, Timeout: ac.CELTimeout.D()},
	}
	switch ac.Mode {
	case config.ModeEnforce:
		opts.ModeFor = func(*gatehouse.Route) gatehouse.Mode { return gatehouse.Enforce }
	case config.ModeMonitor:
		opts.ModeFor = func(*gatehouse.Route) gatehouse.Mode { return gatehouse.Monitor }
	}
	if b != nil {
		opts.Logger = b.log
		opts.Metrics = b.metrics
		opts.Now = b.now
		if trusted, err := httpx.ParseTrustedProxies(cfg.TrustedProxies); err == nil {
			opts.ClientIP = func(r *http.Request) string { return trusted.ClientIP(r).String() }
		}
	}
	keys := make([]string, 0, len(ac.Rules))
	for k := range ac.Rules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := ac.Rules[k]
		if r == nil {
			return nil, config.AtPath("authz.rules."+k, errors.New("empty rule"))
		}
		pr := policy.Rule{Key: k, Public: r.Public, Authenticated: r.Authenticated, Roles: r.Roles,
			RolesAll: r.RolesAll, Scopes: r.Scopes, Allow: r.Allow}
		if r.Owner != nil {
			pr.Owner = &policy.Owner{Param: r.Owner.Param, Claim: r.Owner.Claim, UnlessRoles: r.Owner.UnlessRolesAll()}
		}
		if o := r.OwnerResponse; o != nil {
			pr.OwnerResponse = &policy.OwnerResponse{Field: o.Field, Claim: o.Claim, UnlessRoles: o.UnlessRolesAll(),
				DenyStatus: o.DenyStatus, Filter: o.Filter}
		}
		opts.Rules = append(opts.Rules, pr)
	}
	pol, err := policy.New(opts)
	if err != nil {
		var re *policy.RuleError
		if errors.As(err, &re) {
			path := "authz.rules." + re.Key
			if re.Field != "" {
				path += "." + re.Field
			}
			msg := re.Err
			if re.Operation != "" {
				msg = fmt.Errorf("%w (compiled for operation %s)", re.Err, re.Operation)
			}
			return nil, config.AtPath(path, msg)
		}
		return nil, config.AtPath("authz", err)
	}
	return pol, nil
}

// AuthzOperations translates the spec's operations into what the policy
// needs: parameter types from their schemas (integer → int, number →
// double, boolean → bool, anything else → string) and the top-level
// properties of a JSON request body.
func AuthzOperations(spec *openapi.Spec) []policy.Operation {
	ops := make([]policy.Operation, 0, len(spec.Operations))
	for _, op := range spec.Operations {
		po := policy.Operation{ID: op.ID, Method: op.Method, Template: op.Template, Tags: op.Tags}
		if openapi.Op(op) != nil {
			po.OwnerField = ownerFieldExtension(op)
			o := openapi.Op(op)
			po.ResponseType = func(ptr string) celpolicy.Type { return responseFieldType(o, ptr) }
		}
		for _, prm := range openapi.Params(op) {
			if prm == nil || (prm.In != "path" && prm.In != "query") {
				continue
			}
			in := policy.InPath
			if prm.In == "query" {
				in = policy.InQuery
			}
			po.Params = append(po.Params, policy.Param{Name: prm.Name, In: in, Type: schemaType(prm.Schema, 0)})
		}
		if openapi.Op(op) != nil && openapi.Op(op).RequestBody != nil && openapi.Op(op).RequestBody.Content != nil {
			for mt, media := range openapi.Op(op).RequestBody.Content.FromOldest() {
				if !isJSONMedia(mt) {
					continue
				}
				po.JSONBody = true
				if media != nil {
					for name, t := range bodyProps(media.Schema, 0) {
						po.Params = append(po.Params, policy.Param{Name: name, In: policy.InBody, Type: t})
					}
				}
				break
			}
		}
		ops = append(ops, po)
	}
	return ops
}

// unenforcedOwnerFields lists the operations that declare
// x-gatehouse-owner-field while no operation rule has owner_response.
func unenforcedOwnerFields(cfg *config.Config, spec *openapi.Spec) []string {
	var out []string
	for _, op := range spec.Operations {
		if ownerFieldExtension(op) == "" {
			continue
		}
		enforced := false
		for _, k := range []string{op.ID, op.Method + " " + op.Template} {
			if r := cfg.Authz.Rules[k]; r != nil && r.OwnerResponse != nil {
				enforced = true
			}
		}
		if !enforced {
			out = append(out, op.ID)
		}
	}
	return out
}

// OwnerFieldExtension is the operation extension that names the response
// property holding the object's owner: `x-gatehouse-owner-field: owner_id`
// (a property name, or a JSON pointer). It supplies the default field of an
// owner_response rule; it enforces nothing by itself.
const OwnerFieldExtension = "x-gatehouse-owner-field"

// ownerFieldExtension returns the operation's x-gatehouse-owner-field as a
// JSON pointer ("owner_id" → "/owner_id"), or "".
func ownerFieldExtension(op *openapi.Operation) string {
	if openapi.Op(op) == nil || openapi.Op(op).Extensions == nil {
		return ""
	}
	n, ok := openapi.Op(op).Extensions.Get(OwnerFieldExtension)
	if !ok || n == nil || n.Value == "" {
		return ""
	}
	v := n.Value
	if !strings.HasPrefix(v, "/") {
		v = "/" + strings.ReplaceAll(strings.ReplaceAll(v, "~", "~0"), "/", "~1")
	}
	return v
}

// responseFieldType returns the declared type of the value at ptr in the
// operation's first 2xx JSON response (for an array response, in its
// items): integer → Int, etc.; String when the spec does not say.
func responseFieldType(op *v3.Operation, ptr string) celpolicy.Type {
	if op.Responses == nil || op.Responses.Codes == nil {
		return celpolicy.String
	}
	for code, resp := range op.Responses.Codes.FromOldest() {
		if len(code) != 3 || code[0] != '2' || resp == nil || resp.Content == nil {
			continue
		}
		for mt, media := range resp.Content.FromOldest() {
			if !isJSONMedia(mt) || media == nil || media.Schema == nil {
				continue
			}
			sp := media.Schema
			if s := sp.Schema(); s != nil && len(s.Type) == 1 && s.Type[0] == "array" && s.Items != nil && s.Items.IsA() {
				sp = s.Items.A
			}
			for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
				tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
				sp = propSchema(sp, tok, 0)
				if sp == nil {
					return celpolicy.String
				}
			}
			return schemaType(sp, 0)
		}
	}
	return celpolicy.String
}

// propSchema returns the schema of property name of sp (allOf included).
func propSchema(sp *base.SchemaProxy, name string, depth int) *base.SchemaProxy {
	if sp == nil || depth > 8 {
		return nil
	}
	s := sp.Schema()
	if s == nil {
		return nil
	}
	if s.Properties != nil {
		if p, ok := s.Properties.Get(name); ok {
			return p
		}
	}
	for _, sub := range s.AllOf {
		if p := propSchema(sub, name, depth+1); p != nil {
			return p
		}
	}
	return nil
}

func isJSONMedia(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "*/*" || mt == "application/*"
}

// schemaType maps a schema to the CEL type of its values: exactly one
// non-null scalar type of integer/number/boolean maps to int/double/bool;
// anything else (string, several types, no type, objects) is a string,
// compared exactly.
func schemaType(sp *base.SchemaProxy, depth int) celpolicy.Type {
	if sp == nil || depth > 8 {
		return celpolicy.String
	}
	s := sp.Schema()
	if s == nil {
		return celpolicy.String
	}
	var types []string
	for _, t := range s.Type {
		if t != "null" {
			types = append(types, t)
		}
	}
	if len(types) == 0 && len(s.AllOf) > 0 {
		for _, sub := range s.AllOf {
			if t := schemaType(sub, depth+1); t != celpolicy.String {
				return t
			}
		}
	}
	if len(types) != 1 {
		return celpolicy.String
	}
	switch types[0] {
	case "integer":
		return celpolicy.Int
	case "number":
		return celpolicy.Double
	case "boolean":
		return celpolicy.Bool
	}
	return celpolicy.String
}

// bodyProps returns the top-level properties of an object schema (allOf
// parts included) with their types.
func bodyProps(sp *base.SchemaProxy, depth int) map[string]celpolicy.Type {
	out := map[string]celpolicy.Type{}
	if sp == nil || depth > 8 {
		return out
	}
	s := sp.Schema()
	if s == nil {
		return out
	}
	if s.Properties != nil {
		for name, p := range s.Properties.FromOldest() {
			out[name] = schemaType(p, depth+1)
		}
	}
	for _, sub := range s.AllOf {
		for name, t := range bodyProps(sub, depth+1) {
			if _, ok := out[name]; !ok {
				out[name] = t
			}
		}
	}
	return out
}

// AuthzWarnings returns one located warning per operation open to anonymous
// callers, for `gatehouse validate` to print beside cfg.Warnings(): at
// authz.rules.<key>.public for an explicit public rule, at authz.default for
// an operation no rule addresses under `default: public`.
func AuthzWarnings(cfg *config.Config, spec *openapi.Spec) ([]config.Problem, error) {
	pub, err := AuthzPublicOperations(cfg, spec)
	if err != nil {
		return nil, err
	}
	out := make([]config.Problem, 0, len(pub))
	for _, id := range pub {
		path := "authz.default"
		msg := fmt.Sprintf("operation %s is public (no rule addresses it and the default is public)", id)
		if op := spec.Operation(id); op != nil {
			for _, k := range []string{op.ID, op.Method + " " + op.Template} {
				if r := cfg.Authz.Rules[k]; r != nil && r.Public {
					path = "authz.rules." + k + ".public"
					msg = fmt.Sprintf("operation %s is public: anonymous callers are let in", id)
				}
			}
		}
		line, col := cfg.Position(path)
		out = append(out, config.Problem{Path: path, Msg: msg, Warning: true, File: cfg.File, Line: line, Col: col})
	}
	for _, id := range unenforcedOwnerFields(cfg, spec) {
		line, col := cfg.Position("authz.rules")
		out = append(out, config.Problem{Path: "authz.rules", Warning: true, File: cfg.File, Line: line, Col: col,
			Msg: fmt.Sprintf("operation %s declares %s but no rule enforces it: add %s: { owner_response: { claim: sub } }", id, OwnerFieldExtension, id)})
	}
	return out, nil
}
