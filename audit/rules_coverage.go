package audit

import (
	"fmt"
	"github.com/gatehouse/gatehouse/openapi"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

func init() {
	register(&ruleDef{Rule: Rule{ID: "GH1401", Title: "Operation left public by the gateway", Family: FamilyCoverage, Severity: scan.High, OWASP: API2Authn, CWE: "CWE-306",
		Description: "The gateway config lets anonymous callers reach an operation that the spec does not declare public (security: []).",
		Remediation: "Use authz.default: deny or authenticated, and public: true only on operations meant to be public.",
		Fix:         "authz: { default: deny }"},
		run: ruleCovPublic})
	register(&ruleDef{Rule: Rule{ID: "GH1402", Title: "Identifier parameter without ownership rule", Family: FamilyCoverage, Severity: scan.Medium, OWASP: API1BOLA, CWE: "CWE-639",
		Description: "A path parameter names an object id, and no authz rule of the gateway checks that the object belongs to the caller (owner, owner_response, a CEL allow over it, or a role restriction).",
		Remediation: "Add an owner rule for the parameter, or owner_response when only the upstream knows the owner.",
		Fix:         "authz:\n  rules:\n    OPERATION: { owner: { param: ID_PARAM, claim: sub, unless_role: admin } }"},
		run: ruleCovOwnership})
	register(&ruleDef{Rule: Rule{ID: "GH1403", Title: "Admin operation without a role", Family: FamilyCoverage, Severity: scan.High, OWASP: API5BFLA, CWE: "CWE-285",
		Description: "An admin-looking operation (tag, path or id says admin/internal/manage) is not restricted to a role or scope at the gateway.",
		Remediation: "Restrict administrative operations to an admin role.",
		Fix:         "authz:\n  rules:\n    \"tag:admin\": { roles: [admin] }"},
		run: ruleCovAdmin})
	register(&ruleDef{Rule: Rule{ID: "GH1404", Title: "Login operation without brute-force limits", Family: FamilyCoverage, Severity: scan.High, OWASP: API2Authn, CWE: "CWE-307",
		Description: "A login operation is neither in rate_limits.login.operations nor named by a rate limit: passwords can be guessed at full speed.",
		Remediation: "Add the operation to rate_limits.login with per-IP and per-account limits and a lockout.",
		Fix:         "rate_limits:\n  login:\n    operations: [login]\n    per_ip: { rate: \"5/min\", burst: 5 }\n    per_account: { rate: \"10/h\", burst: 10 }\n    lockout: { after_failures: 5, base: 1m, max: 1h }"},
		run: ruleCovLogin})
	register(&ruleDef{Rule: Rule{ID: "GH1405", Title: "Responses not filtered", Family: FamilyCoverage, Severity: scan.Medium, OWASP: API3Property, CWE: "CWE-213",
		Description: "Response filtering is off, or an operation's success response has no schema, so the gateway passes undeclared fields (excessive data exposure) through.",
		Remediation: "Set response.mode: filter and declare a schema for every success response.",
		Fix:         "response: { mode: filter, mask_fields: [password, secret, token] }"},
		run: ruleCovResponse})
	register(&ruleDef{Rule: Rule{ID: "GH1406", Title: "Unbounded input no overlay bounds", Family: FamilyCoverage, Severity: scan.Low, OWASP: API4Resource, CWE: "CWE-770",
		Description: "Request fields without bounds (strings, arrays, numbers) are not bounded by a spec overlay either; only the gateway's request-wide limits apply.",
		Remediation: "Review and apply the overlay written by gatehouse init (bounds, patterns, additionalProperties: false).",
		Fix:         "gatehouse init --spec openapi.yaml   # writes gatehouse.overlay.yaml"},
		run: ruleCovBounds})
}

func ruleCovPublic(c *auditCtx) {
	for _, op := range c.spec.Operations {
		if openapi.Op(op).Security != nil && len(openapi.Op(op).Security) == 0 {
			continue // declared public by the contract
		}
		if c.gw.public(op) {
			c.report(op.Pointer, op, "", fmt.Sprintf("%s %s is public at the gateway (authz.default: %s, no rule requires a principal)", op.Method, op.Template, c.gw.Default))
		}
	}
}

func ruleCovOwnership(c *auditCtx) {
	for _, op := range c.spec.Operations {
		if scan.IsLogin(op) {
			continue
		}
		for _, p := range openapi.Params(op) {
			if !strings.EqualFold(p.In, "path") || !IDParam(p.Name) || c.gw.ownership(op, p.Name) {
				continue
			}
			c.report(paramPointer(op, p), op, p.Name, fmt.Sprintf("%s %s: no ownership rule for path id %q", op.Method, op.Template, p.Name))
		}
	}
}

func ruleCovAdmin(c *auditCtx) {
	for _, op := range c.spec.Operations {
		if scan.LooksAdmin(op) && !c.gw.roleGuarded(op) {
			c.report(op.Pointer, op, "", fmt.Sprintf("admin-looking %s %s is not restricted to a role", op.Method, op.Template))
		}
	}
}

func ruleCovLogin(c *auditCtx) {
	for _, op := range c.spec.Operations {
		if scan.IsLogin(op) && !c.gw.loginLimited(op) {
			c.report(op.Pointer, op, "", fmt.Sprintf("login %s %s (%s) has no brute-force limit", op.Method, op.Template, op.ID))
		}
	}
}

func ruleCovResponse(c *auditCtx) {
	if c.gw.ResponseMode != "" && c.gw.ResponseMode != "filter" {
		c.report("", nil, "mode", fmt.Sprintf("response.mode is %q: undeclared response fields pass through", c.gw.ResponseMode))
		return
	}
	for _, op := range c.spec.Operations {
		if op.Method == "HEAD" || op.Method == "OPTIONS" || op.Method == "DELETE" {
			continue
		}
		has := false
		for _, r := range successResponses(op) {
			if r.Content == nil {
				continue
			}
			for _, mt := range r.Content.FromOldest() {
				if mt != nil && mt.Schema != nil {
					has = true
				}
			}
		}
		if !has {
			c.report(op.Pointer+"/responses", op, "", fmt.Sprintf("%s %s: no success response schema, nothing to filter", op.Method, op.Template))
		}
	}
}

func ruleCovBounds(c *auditCtx) {
	var open []string
	c.requestSites(func(st *site) {
		if (unboundedString(st) || unboundedArray(st) || unboundedNumber(st)) && !c.gw.Bounded[st.ptr] {
			open = append(open, st.ptr)
		}
	})
	if len(open) == 0 {
		return
	}
	fallback := "no request-wide max_string_length or max_array_length either"
	if c.gw.MaxStringLength > 0 || c.gw.MaxArrayLength > 0 {
		fallback = fmt.Sprintf("only request.max_string_length=%d and max_array_length=%d apply", c.gw.MaxStringLength, c.gw.MaxArrayLength)
	}
	show := open
	if len(show) > 5 {
		show = show[:5]
	}
	c.report("", nil, "", fmt.Sprintf("%d unbounded request fields are bounded by no overlay (%s; e.g. %s)", len(open), fallback, strings.Join(show, ", ")))
}
