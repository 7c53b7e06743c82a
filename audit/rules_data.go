package audit

import (
	"fmt"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func init() {
	register(&ruleDef{Rule: Rule{ID: "GH1101", Title: "Unbounded string input", Family: FamilyData, Severity: scan.Medium, OWASP: API4Resource, CWE: "CWE-770",
		Description: "A string the client sends has no maxLength, enum, const, pattern or format: any size and content is valid.",
		Remediation: "Give every input string a maxLength (and a pattern or format where the content is known).",
		Fix:         "request: { max_string_length: 4KiB }   # or apply the overlay written by gatehouse init"},
		run: ruleUnboundedString})
	register(&ruleDef{Rule: Rule{ID: "GH1102", Title: "Unbounded array input", Family: FamilyData, Severity: scan.Medium, OWASP: API4Resource, CWE: "CWE-770",
		Description: "An array the client sends has no maxItems: one request can carry any number of elements.",
		Remediation: "Give every input array a maxItems.",
		Fix:         "request: { max_array_length: 1000 }"},
		run: ruleUnboundedArray})
	register(&ruleDef{Rule: Rule{ID: "GH1103", Title: "Unbounded number input", Family: FamilyData, Severity: scan.Low, OWASP: API4Resource, CWE: "CWE-20",
		Description: "A number the client sends lacks a minimum or a maximum (page sizes, quantities, amounts).",
		Remediation: "Declare minimum and maximum on every numeric input."},
		run: ruleUnboundedNumber})
	register(&ruleDef{Rule: Rule{ID: "GH1104", Title: "Request body object accepts unknown properties", Family: FamilyData, Severity: scan.Medium, OWASP: API3Property, CWE: "CWE-915",
		Description: "A request body object leaves additionalProperties open (3.0), or neither additionalProperties nor unevaluatedProperties is false (3.1): clients can send fields the API did not plan for (mass assignment).",
		Remediation: "Set additionalProperties: false (3.0) or unevaluatedProperties: false (3.1) on request body objects.",
		Fix:         "request: { reject_unknown_properties: true }"},
		run: ruleOpenObject})
	register(&ruleDef{Rule: Rule{ID: "GH1105", Title: "readOnly property accepted in requests", Family: FamilyData, Severity: scan.Medium, OWASP: API3Property, CWE: "CWE-915",
		Description: "A request body schema contains a readOnly property: OpenAPI only says clients SHOULD NOT send it, validators accept it, and an upstream that binds the body sets it (ids, owners, roles).",
		Remediation: "Use a separate request schema without server-controlled properties.",
		Fix:         "request: { reject_unknown_properties: true }   # with a request schema that omits the property"},
		run: ruleReadOnlyInRequest})
	register(&ruleDef{Rule: Rule{ID: "GH1106", Title: "Sensitive property in a response", Family: FamilyData, Severity: scan.High, OWASP: API3Property, CWE: "CWE-200",
		Description: "A response schema declares a property whose name says it holds a secret (password, secret, private key, SSN, card number, CVV).",
		Remediation: "Remove the property from response schemas, or mark it writeOnly.",
		Fix:         "response:\n  filter: schema\n  mask_fields: [password, secret, ssn]"},
		run: ruleSensitiveResponse})
	register(&ruleDef{Rule: Rule{ID: "GH1107", Title: "Response schema missing", Family: FamilyData, Severity: scan.Medium, OWASP: API3Property, CWE: "CWE-213",
		Description: "A success response has no schema, so nothing says which fields the API may return and a gateway cannot filter undeclared ones.",
		Remediation: "Declare a JSON schema for every success response with a body.",
		Fix:         "response: { mode: filter }   # needs the schema"},
		run: ruleMissingResponseSchema})
}

// boundingFormat reports whether a string format bounds the value.
func boundingFormat(f string) bool {
	switch strings.ToLower(f) {
	case "", "binary", "byte", "base64", "password", "text":
		return false
	}
	return true
}

func (c *auditCtx) requestSites(f func(st *site)) {
	for _, st := range c.schemas.sites {
		if st.dir == dirRequest {
			f(st)
		}
	}
}

// unboundedString reports whether s is an input string with no bound.
func unboundedString(st *site) bool {
	s := st.s
	return hasType(s, "string") && s.MaxLength == nil && len(s.Enum) == 0 && s.Const == nil && s.Pattern == "" && !boundingFormat(s.Format)
}

func unboundedArray(st *site) bool {
	return hasType(st.s, "array") && st.s.MaxItems == nil
}

func unboundedNumber(st *site) bool {
	s := st.s
	if !(hasType(s, "integer") || hasType(s, "number")) || len(s.Enum) > 0 || s.Const != nil {
		return false
	}
	hasMax := s.Maximum != nil || (s.ExclusiveMaximum != nil && s.ExclusiveMaximum.IsB())
	hasMin := s.Minimum != nil || (s.ExclusiveMinimum != nil && s.ExclusiveMinimum.IsB())
	return !hasMax || !hasMin
}

func siteName(st *site) string {
	if st.param != "" {
		return "parameter " + st.param
	}
	i := strings.LastIndex(st.ptr, "/properties/")
	if i >= 0 {
		return "property " + unescape(st.ptr[i+len("/properties/"):])
	}
	return "schema"
}

func unescape(tok string) string {
	if !strings.Contains(tok, "~") {
		return tok
	}
	return pointerUnescaper.Replace(tok)
}

func ruleUnboundedString(c *auditCtx) {
	c.requestSites(func(st *site) {
		if unboundedString(st) {
			c.report(st.ptr, st.op, "", fmt.Sprintf("%s: string without maxLength, enum, pattern or format", siteName(st)))
		}
	})
}

func ruleUnboundedArray(c *auditCtx) {
	c.requestSites(func(st *site) {
		if unboundedArray(st) {
			c.report(st.ptr, st.op, "", fmt.Sprintf("%s: array without maxItems", siteName(st)))
		}
	})
}

func ruleUnboundedNumber(c *auditCtx) {
	c.requestSites(func(st *site) {
		if unboundedNumber(st) {
			c.report(st.ptr, st.op, "", fmt.Sprintf("%s: number without minimum and maximum", siteName(st)))
		}
	})
}

// openObject reports whether a request body object accepts unknown
// properties.
func (c *auditCtx) openObject(st *site) bool {
	s := st.s
	if !st.body || st.member || !isObject(s) || composed(s) || s.Properties == nil || s.Properties.Len() == 0 {
		return false
	}
	if ap := s.AdditionalProperties; ap != nil && ap.IsB() && !ap.B {
		return false
	}
	if ap := s.AdditionalProperties; ap != nil && ap.IsA() {
		return false // a typed map: deliberate
	}
	if up := s.UnevaluatedProperties; up != nil && ((up.IsB() && !up.B) || up.IsA()) {
		return false
	}
	return true
}

func (c *auditCtx) is31() bool { return strings.HasPrefix(c.spec.Version, "3.1") }

func ruleOpenObject(c *auditCtx) {
	c.requestSites(func(st *site) {
		if c.openObject(st) {
			what := "additionalProperties is not false"
			if c.is31() {
				what = "neither additionalProperties nor unevaluatedProperties is false"
			}
			c.report(st.ptr, st.op, "", fmt.Sprintf("request body object: %s", what))
		}
	})
}

func ruleReadOnlyInRequest(c *auditCtx) {
	c.requestSites(func(st *site) {
		if st.body && boolTrue(st.s.ReadOnly) {
			c.report(st.ptr, st.op, "", fmt.Sprintf("%s is readOnly but part of a request body schema", siteName(st)))
		}
	})
}

var sensitiveExact = map[string]bool{"ssn": true, "cvv": true, "cvc": true, "cvv2": true, "pin": true, "salt": true, "pan": true}
var sensitiveSuffix = []string{"password", "passwords", "passwordhash", "passwd", "secret", "secrets", "secretkey", "privatekey",
	"apikey", "creditcard", "creditcardnumber", "cardnumber", "socialsecuritynumber", "passphrase"}

var nameNormalizer = strings.NewReplacer("_", "", "-", "", ".", "")

// normName lower-cases name and drops '_', '-' and '.'.
func normName(name string) string { return strings.ToLower(nameNormalizer.Replace(name)) }

// Sensitive reports whether a property name says it holds a secret: it is
// one of ssn, cvv, pin, salt..., or ends with password, secret, private
// key, api key, card number... Case, '_', '-' and '.' are ignored, so
// "client_secret" and "passwordHash" are sensitive while "api_key_id" and
// "password_updated_at" (metadata about a secret) are not.
func Sensitive(name string) bool {
	n := normName(name)
	if sensitiveExact[n] {
		return true
	}
	for _, s := range sensitiveSuffix {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

func ruleSensitiveResponse(c *auditCtx) {
	for _, st := range c.schemas.sites {
		if st.dir != dirResponse || st.s.Properties == nil {
			continue
		}
		for name, p := range openapi.Properties(st.s) {
			if !Sensitive(name) {
				continue
			}
			if ps := p.Schema(); ps != nil && (boolTrue(ps.WriteOnly) || hasType(ps, "object") || hasType(ps, "array") || hasType(ps, "boolean") || hasType(ps, "integer")) {
				continue // write-only, or not a value that can hold a secret
			}
			c.report(st.ptr+"/properties/"+escape(name), st.op, "", fmt.Sprintf("response property %q looks sensitive", name))
		}
	}
}

// successResponses returns op's 2xx responses by code.
func successResponses(op *openapi.Operation) map[string]*v3.Response {
	out := map[string]*v3.Response{}
	forResponses(op, func(code string, r *v3.Response) {
		if strings.HasPrefix(code, "2") {
			out[code] = r
		}
	})
	return out
}

func ruleMissingResponseSchema(c *auditCtx) {
	for _, op := range c.spec.Operations {
		if op.Method == "HEAD" || op.Method == "OPTIONS" {
			continue
		}
		succ := successResponses(op)
		if len(succ) == 0 {
			c.report(op.Pointer+"/responses", op, "", fmt.Sprintf("%s %s declares no 2xx response", op.Method, op.Template))
			continue
		}
		withSchema := false
		for _, code := range sortedKeys(succ) {
			r := succ[code]
			if r.Content == nil {
				continue
			}
			for ct, mt := range r.Content.FromOldest() {
				if mt == nil || mt.Schema == nil {
					c.report(op.Pointer+"/responses/"+code+"/content/"+escape(ct), op, "", fmt.Sprintf("%s %s response %s (%s) has no schema", op.Method, op.Template, code, ct))
				} else {
					withSchema = true
				}
			}
		}
		if op.Method == "GET" && !withSchema {
			c.report(op.Pointer+"/responses", op, "get", fmt.Sprintf("GET %s returns no declared body schema", op.Template))
		}
	}
}
