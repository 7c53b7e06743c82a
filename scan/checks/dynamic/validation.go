package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// InputValidation (GH2041) sends schema-violating inputs to operations whose
// valid request succeeds: a non-numeric value for an integer or number
// parameter, a string one character over maxLength, a number just outside
// minimum/maximum, and an unknown property in a JSON body whose schema says
// additionalProperties: false. A 4xx is the right answer; a 2xx (accepted,
// medium) or a 5xx (crashed, low) seen twice is a finding.
//
// OWASP category: API8 Security Misconfiguration. The 2023 list has no
// injection/validation entry of its own and places missing input hardening
// under API8 (as GH2040 does); only oversize strings touch API4, and those
// are a side case here.
type InputValidation struct{}

var _ scan.Check = InputValidation{}

// Meta implements scan.Check.
func (InputValidation) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2041", Title: "Schema-violating input accepted", Category: "errors",
		Severity: scan.Medium, OWASP: scan.API8Misconfig, CWE: "CWE-20",
		Description: "The API accepted (2xx) or crashed on (5xx) input its own contract forbids: wrong types, over-long strings, out-of-range numbers or unknown properties reach the application.",
		Remediation: "Validate every request against the contract before the handler runs and answer 400 with a generic problem body.",
		Fix:         "request: { validate: true, reject_unknown_properties: true }",
	}
}

// violation is one schema-violating variant of a valid request.
type violation struct {
	param, what string
	apply       func(p *scan.Prepared)
}

func hasType(s *base.Schema, ts ...string) bool {
	for _, t := range s.Type {
		if slices.Contains(ts, t) {
			return true
		}
	}
	return false
}

// numberOutside returns a value just outside s's bounds.
func numberOutside(s *base.Schema) (any, string, bool) {
	integer := hasType(s, "integer")
	switch {
	case s.Maximum != nil:
		if integer {
			return int64(*s.Maximum) + 1, fmt.Sprintf("above maximum %v", *s.Maximum), true
		}
		return *s.Maximum + 1, fmt.Sprintf("above maximum %v", *s.Maximum), true
	case s.Minimum != nil:
		if integer {
			return int64(*s.Minimum) - 1, fmt.Sprintf("below minimum %v", *s.Minimum), true
		}
		return *s.Minimum - 1, fmt.Sprintf("below minimum %v", *s.Minimum), true
	}
	return nil, "", false
}

// violations lists at most one variant of each kind for op.
func violations(op *openapi.Operation) []violation {
	var out []violation
	seen := map[string]bool{}
	add := func(kind string, v violation) {
		if !seen[kind] {
			seen[kind] = true
			out = append(out, v)
		}
	}
	for _, prm := range openapi.Params(op) {
		if prm == nil {
			continue
		}
		in := strings.ToLower(prm.In)
		if in != "path" && in != "query" {
			continue
		}
		s := scan.SchemaOf(prm.Schema)
		if s == nil {
			continue
		}
		name := prm.Name
		set := func(p *scan.Prepared, v string) {
			if in == "path" {
				p.Path[name] = v
			} else {
				p.Query.Set(name, v)
			}
		}
		switch {
		case hasType(s, "integer", "number") && !hasType(s, "string"):
			add("type", violation{in + " " + name, "a non-numeric value for a numeric parameter", func(p *scan.Prepared) { set(p, "ghscan-not-a-number") }})
			if v, what, ok := numberOutside(s); ok && in == "query" {
				add("range", violation{in + " " + name, "a number " + what, func(p *scan.Prepared) { set(p, fmt.Sprint(v)) }})
			}
		case hasType(s, "string") && s.MaxLength != nil && *s.MaxLength < 4096 && s.Format == "" && len(s.Enum) == 0:
			n := int(*s.MaxLength) + 1
			add("length", violation{in + " " + name, fmt.Sprintf("a string of %d characters (maxLength %d)", n, *s.MaxLength), func(p *scan.Prepared) { set(p, strings.Repeat("a", n)) }})
		}
	}
	body := bodySchema(op)
	if body == nil || body.Properties == nil {
		return out
	}
	for name, sp := range openapi.Properties(body) {
		s := scan.SchemaOf(sp)
		if s == nil || s.ReadOnly != nil && *s.ReadOnly {
			continue
		}
		switch {
		case hasType(s, "integer", "number") && !hasType(s, "string"):
			if v, what, ok := numberOutside(s); ok {
				add("range", violation{"body " + name, "a number " + what, func(p *scan.Prepared) { p.BodyMap()[name] = v }})
			}
		case hasType(s, "string") && s.MaxLength != nil && *s.MaxLength < 4096 && len(s.Enum) == 0:
			n := int(*s.MaxLength) + 1
			add("length", violation{"body " + name, fmt.Sprintf("a string of %d characters (maxLength %d)", n, *s.MaxLength), func(p *scan.Prepared) {
				if old, ok := p.BodyMap()[name].(string); ok && strings.Contains(s.Format, "mail") {
					p.BodyMap()[name] = strings.Repeat("a", max(1, n-len(old)+1)) + old
					return
				}
				p.BodyMap()[name] = strings.Repeat("a", n)
			}})
		}
	}
	if ap := body.AdditionalProperties; ap != nil && ap.IsB() && !ap.B {
		add("unknown", violation{"body ghscan_unknown", "an unknown property (additionalProperties: false)", func(p *scan.Prepared) { p.BodyMap()["ghscan_unknown"] = "x" }})
	}
	return out
}

// bodySchema returns the JSON request body schema of op, or nil.
func bodySchema(op *openapi.Operation) *base.Schema {
	rb := openapi.Op(op).RequestBody
	if rb == nil || rb.Content == nil {
		return nil
	}
	for ct, mt := range rb.Content.FromOldest() {
		if strings.Contains(ct, "json") {
			return scan.SchemaOf(mt.Schema)
		}
	}
	return nil
}

// Run implements scan.Check.
func (InputValidation) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return !scan.IsLogin(op) && !scan.IsLogout(op) && op.Method != http.MethodDelete
	}) {
		vs := violations(op)
		if len(vs) == 0 {
			continue
		}
		id := actor(t, op)
		base, err := t.Baseline(ctx, op, id)
		if err := stopErr(ctx, err); err != nil {
			return err
		}
		if base == nil || !granted(base) {
			continue // the valid request does not succeed: nothing to compare
		}
		for _, v := range vs {
			p := t.Prepare(op, id)
			if strings.HasPrefix(v.param, "body ") && p.BodyMap() == nil {
				continue
			}
			v.apply(p)
			var last *scan.Exchange
			bad := 0
			class := 0
			for range 2 {
				ex, err := t.Send(ctx, p, id)
				if err != nil {
					if err := stopErr(ctx, err); err != nil {
						return err
					}
					break
				}
				c := ex.Status / 100
				if c != 2 && c != 5 || class != 0 && c != class || c == 2 && !granted(ex) {
					break
				}
				class, last = c, ex
				bad++
			}
			if bad < 2 {
				continue
			}
			f := scan.Finding{
				Param:  v.param,
				Detail: fmt.Sprintf("%s %s accepted %s in %s: answered %d twice (want 4xx).", op.Method, op.Template, v.what, v.param, last.Status),
			}
			if class == 5 {
				f.Severity = scan.Low
				f.Detail = fmt.Sprintf("%s %s crashed on %s in %s: answered %d twice (want 4xx).", op.Method, op.Template, v.what, v.param, last.Status)
			}
			report(f.At(op).With(last, "schema-violating request"))
		}
	}
	return nil
}
