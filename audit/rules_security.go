package audit

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func init() {
	register(&ruleDef{Rule: Rule{ID: "GH1001", Title: "No security schemes", Family: FamilySecurity, Severity: scan.High, OWASP: API2Authn, CWE: "CWE-306",
		Description: "The document declares no security scheme, so no operation can require authentication.",
		Remediation: "Declare the API's authentication in components.securitySchemes and require it with a top-level security requirement.",
		Fix:         "authn:\n  jwt:\n    - { issuer: https://idp.example.com/, jwks_url: https://idp.example.com/jwks.json, algorithms: [RS256] }\nauthz: { default: authenticated }"},
		run: ruleNoSchemes})
	register(&ruleDef{Rule: Rule{ID: "GH1002", Title: "Operation without security", Family: FamilySecurity, Severity: scan.High, OWASP: API2Authn, CWE: "CWE-306",
		Description: "The operation has no security requirement, neither its own nor the document's: anyone may call it.",
		Remediation: "Add a security requirement to the operation or the document; mark deliberately public operations with security: [] and x-gatehouse-ignore.",
		Fix:         "authz: { default: deny }   # then allow each operation explicitly"},
		run: ruleNoSecurity})
	register(&ruleDef{Rule: Rule{ID: "GH1003", Title: "Empty or optional security requirement", Family: FamilySecurity, Severity: scan.Medium, OWASP: API2Authn, CWE: "CWE-306",
		Description: "The operation declares security: [] or an empty {} alternative, which makes authentication optional.",
		Remediation: "Remove the empty requirement unless the operation is meant to be public (then accept the finding with x-gatehouse-ignore).",
		Fix:         "authz:\n  rules:\n    OPERATION: { authenticated: true }"},
		run: ruleEmptySecurity})
	register(&ruleDef{Rule: Rule{ID: "GH1004", Title: "HTTP basic authentication", Family: FamilySecurity, Severity: scan.Medium, OWASP: API2Authn, CWE: "CWE-522",
		Description: "A security scheme uses HTTP basic: the password travels with every request and cannot be scoped or expired.",
		Remediation: "Use bearer tokens (OAuth 2 / OIDC) or API keys in a header instead of basic credentials.",
		Fix:         "authn: { jwt: [ ... ] }"},
		run: ruleBasic})
	register(&ruleDef{Rule: Rule{ID: "GH1005", Title: "Credentials in the query string or path", Family: FamilySecurity, Severity: scan.High, OWASP: API2Authn, CWE: "CWE-598",
		Description: "An API key scheme or a credential-like parameter (token, api_key, password, secret) is sent in the query string or path, where proxies, logs and browser history keep it.",
		Remediation: "Send credentials in a header (Authorization or X-API-Key) or the request body.",
		Fix:         "authn:\n  api_keys: { header: X-API-Key, file: keys.yaml }   # never query:"},
		run: ruleCredsInURL})
	register(&ruleDef{Rule: Rule{ID: "GH1006", Title: "OAuth 2 implicit flow", Family: FamilySecurity, Severity: scan.Medium, OWASP: API2Authn, CWE: "CWE-522",
		Description: "The implicit flow returns tokens in the redirect URL; OAuth 2.0 Security BCP (RFC 9700) says not to use it.",
		Remediation: "Use the authorization code flow with PKCE."},
		run: ruleImplicit})
	register(&ruleDef{Rule: Rule{ID: "GH1007", Title: "OAuth 2 password flow", Family: FamilySecurity, Severity: scan.Medium, OWASP: API2Authn, CWE: "CWE-522",
		Description: "The resource owner password credentials flow hands the user's password to the client; RFC 9700 says it must not be used.",
		Remediation: "Use the authorization code flow with PKCE (or client credentials for machine clients)."},
		run: rulePasswordFlow})
	register(&ruleDef{Rule: Rule{ID: "GH1008", Title: "Plain-HTTP server", Family: FamilySecurity, Severity: scan.High, OWASP: API8Misconfig, CWE: "CWE-319",
		Description: "A server URL uses http:// on a non-loopback host: credentials and data travel in clear text.",
		Remediation: "Serve the API over https only.",
		Fix:         "tls: { cert_file: tls.crt, key_file: tls.key }\nheaders: { preset: strict }   # HSTS"},
		run: rulePlainHTTP})
	register(&ruleDef{Rule: Rule{ID: "GH1009", Title: "Admin operation shares the user security requirement", Family: FamilySecurity, Severity: scan.High, OWASP: API5BFLA, CWE: "CWE-285",
		Description: "An admin-looking operation requires exactly the same schemes and scopes as ordinary user operations, so the contract gives no way to tell who may call it.",
		Remediation: "Require an admin scope (or a separate scheme) on administrative operations.",
		Fix:         "authz:\n  rules:\n    \"tag:admin\": { roles: [admin] }"},
		run: ruleAdminSameScheme})
	register(&ruleDef{Rule: Rule{ID: "GH1010", Title: "JWT bearer scheme without validation details", Family: FamilySecurity, Severity: scan.Low, OWASP: API2Authn, CWE: "CWE-347",
		Description: "A bearer scheme carries JWTs but says nothing of how they are validated (issuer, audience, signing keys or algorithms), which invites accepting unsigned or foreign tokens.",
		Remediation: "Describe the issuer, audience, JWKS URL and accepted algorithms, or use an openIdConnect scheme with its discovery URL.",
		Fix:         "authn:\n  jwt:\n    - { issuer: ..., jwks_url: ..., audiences: [...], algorithms: [RS256] }"},
		run: ruleJWTUnspecified})
	register(&ruleDef{Rule: Rule{ID: "GH1011", Title: "Unused security scheme", Family: FamilySecurity, Severity: scan.Info, OWASP: API9Inventory, CWE: "CWE-1059",
		Description: "A security scheme is declared but no requirement uses it: either dead configuration, or operations that should require it do not.",
		Remediation: "Remove the scheme or require it where it belongs."},
		run: ruleUnusedScheme})
}

// schemes returns the declared security schemes in document order.
func (c *auditCtx) schemes() []struct {
	name string
	s    *v3.SecurityScheme
} {
	var out []struct {
		name string
		s    *v3.SecurityScheme
	}
	if openapi.Model(c.spec).Components == nil || openapi.Model(c.spec).Components.SecuritySchemes == nil {
		return out
	}
	for name, s := range openapi.Model(c.spec).Components.SecuritySchemes.FromOldest() {
		if s != nil {
			out = append(out, struct {
				name string
				s    *v3.SecurityScheme
			}{name, s})
		}
	}
	return out
}

func schemePtr(name string) string { return "/components/securitySchemes/" + escape(name) }

// effectiveSecurity returns op's requirements (its own, else the
// document's) and the pointer where they are declared.
func (c *auditCtx) effectiveSecurity(op *openapi.Operation) ([]*base.SecurityRequirement, string) {
	if openapi.Op(op).Security != nil {
		return openapi.Op(op).Security, op.Pointer + "/security"
	}
	return openapi.Model(c.spec).Security, "/security"
}

func ruleNoSchemes(c *auditCtx) {
	if len(c.schemes()) == 0 {
		c.report("/components", nil, "", "no components.securitySchemes: the contract cannot require authentication anywhere")
	}
}

func ruleNoSecurity(c *auditCtx) {
	for _, op := range c.spec.Operations {
		reqs, _ := c.effectiveSecurity(op)
		if openapi.Op(op).Security == nil && len(reqs) == 0 {
			c.report(op.Pointer, op, "", fmt.Sprintf("%s %s declares no security requirement and the document has none", op.Method, op.Template))
		}
	}
}

func ruleEmptySecurity(c *auditCtx) {
	for _, op := range c.spec.Operations {
		reqs, ptr := c.effectiveSecurity(op)
		if openapi.Op(op).Security != nil && len(openapi.Op(op).Security) == 0 {
			c.report(ptr, op, "", fmt.Sprintf("%s %s has security: [] (no authentication)", op.Method, op.Template))
			continue
		}
		for _, r := range reqs {
			if r == nil || r.ContainsEmptyRequirement || r.Requirements == nil || r.Requirements.Len() == 0 {
				c.report(op.Pointer, op, "", fmt.Sprintf("%s %s accepts an empty security requirement {} (authentication optional)", op.Method, op.Template))
				break
			}
		}
	}
}

func ruleBasic(c *auditCtx) {
	for _, sc := range c.schemes() {
		if strings.EqualFold(sc.s.Type, "http") && strings.EqualFold(sc.s.Scheme, "basic") {
			c.report(schemePtr(sc.name), nil, "", fmt.Sprintf("security scheme %q is HTTP basic", sc.name))
		}
	}
}

var credParamRe = regexp.MustCompile(`(?i)^(access_?token|auth_?token|token|id_?token|refresh_?token|api_?key|apikey|key|secret|client_?secret|password|passwd|pwd|jwt|auth|authorization|x-api-key)$`)

func ruleCredsInURL(c *auditCtx) {
	for _, sc := range c.schemes() {
		if strings.EqualFold(sc.s.Type, "apiKey") && (strings.EqualFold(sc.s.In, "query") || strings.EqualFold(sc.s.In, "path")) {
			c.report(schemePtr(sc.name), nil, "", fmt.Sprintf("API key scheme %q is sent in the %s (%s)", sc.name, sc.s.In, sc.s.Name))
		}
	}
	for _, op := range c.spec.Operations {
		for _, p := range openapi.Params(op) {
			if (strings.EqualFold(p.In, "query") || strings.EqualFold(p.In, "path")) && credParamRe.MatchString(p.Name) {
				c.report(paramPointer(op, p), op, p.Name, fmt.Sprintf("%s %s takes credential-like parameter %q in the %s", op.Method, op.Template, p.Name, p.In))
			}
		}
	}
}

func ruleImplicit(c *auditCtx) {
	for _, sc := range c.schemes() {
		if sc.s.Flows != nil && sc.s.Flows.Implicit != nil {
			c.report(schemePtr(sc.name)+"/flows/implicit", nil, "", fmt.Sprintf("OAuth scheme %q allows the implicit flow", sc.name))
		}
	}
}

func rulePasswordFlow(c *auditCtx) {
	for _, sc := range c.schemes() {
		if sc.s.Flows != nil && sc.s.Flows.Password != nil {
			c.report(schemePtr(sc.name)+"/flows/password", nil, "", fmt.Sprintf("OAuth scheme %q allows the password flow", sc.name))
		}
	}
}

// serverSites lists every server URL with its pointer (document, path
// item and operation servers).
func (c *auditCtx) serverSites() []struct{ url, ptr string } {
	var out []struct{ url, ptr string }
	add := func(list []*v3.Server, base string) {
		for i, s := range list {
			if s != nil {
				out = append(out, struct{ url, ptr string }{s.URL, fmt.Sprintf("%s/servers/%d/url", base, i)})
			}
		}
	}
	add(openapi.Model(c.spec).Servers, "")
	seenPI := map[*v3.PathItem]bool{}
	for _, op := range c.spec.Operations {
		if openapi.PathItem(op) != nil && !seenPI[openapi.PathItem(op)] {
			seenPI[openapi.PathItem(op)] = true
			add(openapi.PathItem(op).Servers, op.Pointer[:strings.LastIndexByte(op.Pointer, '/')])
		}
		add(openapi.Op(op).Servers, op.Pointer)
	}
	return out
}

// serverHost returns the scheme and host of a server URL whose variables
// are replaced by a placeholder.
func serverHost(raw string) (scheme, host string, ok bool) {
	u, err := url.Parse(varRe.ReplaceAllString(raw, "x"))
	if err != nil || u.Host == "" {
		return "", "", false
	}
	return strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), true
}

var varRe = regexp.MustCompile(`\{[^{}]*\}`)

func loopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func rulePlainHTTP(c *auditCtx) {
	for _, s := range c.serverSites() {
		scheme, host, ok := serverHost(s.url)
		if ok && scheme == "http" && !loopbackHost(host) {
			c.report(s.ptr, nil, "", fmt.Sprintf("server %q uses plain http", s.url))
		}
	}
}

// reqKey canonicalizes a list of requirements: "scheme[scope,scope]|...".
func reqKey(reqs []*base.SecurityRequirement) string {
	var alts []string
	for _, r := range reqs {
		if r == nil || r.Requirements == nil {
			alts = append(alts, "{}")
			continue
		}
		var parts []string
		for name, scopes := range r.Requirements.FromOldest() {
			sc := append([]string(nil), scopes...)
			sort.Strings(sc)
			parts = append(parts, name+"["+strings.Join(sc, ",")+"]")
		}
		sort.Strings(parts)
		alts = append(alts, strings.Join(parts, "+"))
	}
	sort.Strings(alts)
	return strings.Join(alts, "|")
}

func ruleAdminSameScheme(c *auditCtx) {
	user := map[string]bool{}
	for _, op := range c.spec.Operations {
		if reqs, _ := c.effectiveSecurity(op); len(reqs) > 0 && !scan.LooksAdmin(op) {
			user[reqKey(reqs)] = true
		}
	}
	for _, op := range c.spec.Operations {
		reqs, ptr := c.effectiveSecurity(op)
		if len(reqs) == 0 || !scan.LooksAdmin(op) {
			continue
		}
		if k := reqKey(reqs); user[k] {
			if openapi.Op(op).Security == nil {
				ptr = op.Pointer
			}
			c.report(ptr, op, "", fmt.Sprintf("admin-looking %s %s requires %s, the same as user operations", op.Method, op.Template, k))
		}
	}
}

var jwtValidationRe = regexp.MustCompile(`(?i)jwks|issuer|\biss\b|audience|\baud\b|signature|signed|public key|[RE]S256|PS256|EdDSA|openid|well-known`)

func ruleJWTUnspecified(c *auditCtx) {
	for _, sc := range c.schemes() {
		s := sc.s
		if !strings.EqualFold(s.Type, "http") || !strings.EqualFold(s.Scheme, "bearer") {
			continue
		}
		jwt := strings.EqualFold(s.BearerFormat, "jwt") || strings.Contains(strings.ToLower(s.Description), "jwt")
		if jwt && !jwtValidationRe.MatchString(s.Description) {
			c.report(schemePtr(sc.name), nil, "", fmt.Sprintf("bearer scheme %q carries JWTs but does not say how they are validated (issuer, audience, keys, algorithms)", sc.name))
		}
	}
}

func ruleUnusedScheme(c *auditCtx) {
	used := map[string]bool{}
	mark := func(reqs []*base.SecurityRequirement) {
		for _, r := range reqs {
			if r != nil && r.Requirements != nil {
				for name := range r.Requirements.KeysFromOldest() {
					used[name] = true
				}
			}
		}
	}
	mark(openapi.Model(c.spec).Security)
	for _, op := range c.spec.Operations {
		mark(openapi.Op(op).Security)
	}
	for _, sc := range c.schemes() {
		if !used[sc.name] {
			c.report(schemePtr(sc.name), nil, "", fmt.Sprintf("security scheme %q is never required", sc.name))
		}
	}
}
