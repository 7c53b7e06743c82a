package audit

import (
	"fmt"
	"regexp"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func init() {
	missing := func(id, code, when string, sev scan.Severity, owasp, why string, applies func(c *auditCtx, op *openapi.Operation) bool) {
		register(&ruleDef{Rule: Rule{ID: id, Title: "No " + code + " response declared", Family: FamilyErrors, Severity: sev, OWASP: owasp, CWE: "CWE-755",
			Description: "The operation " + when + " but declares no " + code + " response (nor a 4XX range or default): " + why,
			Remediation: "Declare the " + code + " response with an error schema (RFC 9457 problem details)."},
			run: func(c *auditCtx) {
				for _, op := range c.spec.Operations {
					if applies(c, op) && !declares(op, code) {
						c.report(responsesPtr(op), op, "", fmt.Sprintf("%s %s declares no %s response", op.Method, op.Template, code))
					}
				}
			}})
	}
	missing("GH1201", "400", "takes input", scan.Low, API8Misconfig, "clients and the gateway cannot tell a rejected request from an unexpected error.",
		func(_ *auditCtx, op *openapi.Operation) bool {
			return len(openapi.Params(op)) > 0 || openapi.Op(op).RequestBody != nil
		})
	missing("GH1202", "401", "requires authentication", scan.Low, API2Authn, "the contract does not say what an unauthenticated call gets.",
		func(c *auditCtx, op *openapi.Operation) bool { return c.requiresAuth(op) })
	missing("GH1203", "403", "requires authentication", scan.Low, API5BFLA, "the contract does not say that an authenticated caller can be refused, a sign that authorization was not designed.",
		func(c *auditCtx, op *openapi.Operation) bool { return c.requiresAuth(op) })
	missing("GH1204", "429", "can be called repeatedly", scan.Low, API4Resource, "nothing tells clients the API is rate limited.",
		func(_ *auditCtx, op *openapi.Operation) bool { return true })
	register(&ruleDef{Rule: Rule{ID: "GH1205", Title: "429 response without Retry-After", Family: FamilyErrors, Severity: scan.Low, OWASP: API4Resource, CWE: "CWE-770",
		Description: "A 429 response declares no Retry-After header, so clients retry blindly and make the overload worse.",
		Remediation: "Declare a Retry-After header on 429 responses.",
		Fix:         "rate_limits: { ... }   # the gateway sends Retry-After on its 429s"},
		run: ruleRetryAfter})
	register(&ruleDef{Rule: Rule{ID: "GH1206", Title: "Sequential identifier in path without ownership rule", Family: FamilyErrors, Severity: scan.Medium, OWASP: API1BOLA, CWE: "CWE-639",
		Description: "A path parameter is an integer or digits-only id: ids are guessable, so every object is one increment away unless ownership is checked (BOLA).",
		Remediation: "Check object ownership for every id parameter; prefer random ids (UUIDs) in URLs.",
		Fix:         "authz:\n  rules:\n    OPERATION: { owner: { param: ID_PARAM, claim: sub, unless_role: admin } }"},
		run: ruleSequentialID})
}

func responsesPtr(op *openapi.Operation) string {
	if openapi.Op(op).Responses != nil {
		return op.Pointer + "/responses"
	}
	return op.Pointer
}

// declares reports whether op declares code, its range (4XX) or default.
func declares(op *openapi.Operation, code string) bool {
	if openapi.Op(op).Responses == nil {
		return false
	}
	if openapi.Op(op).Responses.Default != nil {
		return true
	}
	if openapi.Op(op).Responses.Codes == nil {
		return false
	}
	for k := range openapi.Op(op).Responses.Codes.KeysFromOldest() {
		if k == code || strings.EqualFold(k, code[:1]+"XX") {
			return true
		}
	}
	return false
}

// requiresAuth reports whether op's effective requirements all need
// credentials.
func (c *auditCtx) requiresAuth(op *openapi.Operation) bool {
	reqs, _ := c.effectiveSecurity(op)
	if len(reqs) == 0 {
		return false
	}
	for _, r := range reqs {
		if r == nil || r.ContainsEmptyRequirement || r.Requirements == nil || r.Requirements.Len() == 0 {
			return false
		}
	}
	return true
}

func ruleRetryAfter(c *auditCtx) {
	for _, op := range c.spec.Operations {
		forResponses(op, func(code string, r *v3.Response) {
			if code != "429" {
				return
			}
			if r.Headers != nil {
				for h := range r.Headers.KeysFromOldest() {
					if strings.EqualFold(h, "Retry-After") {
						return
					}
				}
			}
			c.report(op.Pointer+"/responses/429", op, "", fmt.Sprintf("%s %s: 429 without a Retry-After header", op.Method, op.Template))
		})
	}
}

var idNameRe = regexp.MustCompile(`(?i)(^id$|_id$|-id$|[a-z]Id$|[a-z]ID$|^(pk|key|num|number|no)$)`)

// IDParam reports whether a parameter name looks like an object id
// ("id", "user_id", "userId", "orderID").
func IDParam(name string) bool { return idNameRe.MatchString(name) }

var digitsPatternRe = regexp.MustCompile(`^\^?(\[0-9\]|\\d)[+*]|^\^?(\[0-9\]|\\d)\{`)

// sequentialParam reports whether p is a path id that looks sequential:
// integer-typed, or a digits-only pattern.
func sequentialParam(p *v3.Parameter) bool {
	if !strings.EqualFold(p.In, "path") || p.Schema == nil {
		return false
	}
	s := p.Schema.Schema()
	if s == nil {
		return false
	}
	if hasType(s, "integer") || (hasType(s, "number") && IDParam(p.Name)) {
		return true
	}
	return hasType(s, "string") && digitsPatternRe.MatchString(s.Pattern)
}

func ruleSequentialID(c *auditCtx) {
	for _, op := range c.spec.Operations {
		for _, p := range openapi.Params(op) {
			if !sequentialParam(p) {
				continue
			}
			if c.gw != nil && c.gw.ownership(op, p.Name) {
				continue
			}
			why := "no gateway config given (-c) to check for an ownership rule"
			if c.gw != nil {
				why = "no ownership rule in " + c.gw.File + " covers it"
			}
			c.report(paramPointer(op, p), op, p.Name, fmt.Sprintf("%s %s: path id %q is sequential-looking; %s", op.Method, op.Template, p.Name, why))
		}
	}
}
