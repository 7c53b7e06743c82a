package audit

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func init() {
	register(&ruleDef{Rule: Rule{ID: "GH1301", Title: "Non-production server URL", Family: FamilyInventory, Severity: scan.Low, OWASP: API9Inventory, CWE: "CWE-1059",
		Description: "A server URL looks like a development, test or internal environment (dev, staging, qa, sandbox, localhost, private addresses): such hosts are often less protected and forgotten.",
		Remediation: "Publish only production servers in the contract; document other environments separately and protect them like production."},
		run: ruleNonProdServer})
	register(&ruleDef{Rule: Rule{ID: "GH1302", Title: "Undocumented API version", Family: FamilyInventory, Severity: scan.Low, OWASP: API9Inventory, CWE: "CWE-1059",
		Description: "The document has no info.version, or it serves several path versions (/v1, /v2) whose older one is not marked deprecated.",
		Remediation: "State info.version, and mark the operations of older path versions deprecated: true (with a retirement date) or remove them."},
		run: ruleVersions})
	register(&ruleDef{Rule: Rule{ID: "GH1303", Title: "URL-like input (SSRF risk)", Family: FamilyInventory, Severity: scan.Medium, OWASP: API7SSRF, CWE: "CWE-918",
		Description: "A parameter or request property is named like a URL or redirect target (url, callback, redirect_uri, webhook, next) or has format uri: if the server fetches or redirects to it, it can be turned against internal hosts.",
		Remediation: "Restrict the value to an allow-list (enum or pattern with a fixed host), and fetch with an egress allow-list that blocks private addresses.",
		Fix:         "request: { detect_injection: true }   # plus a pattern from the overlay"},
		run: ruleURLInput})
}

var nonProdTokens = map[string]bool{"dev": true, "develop": true, "development": true, "staging": true, "stage": true, "stg": true,
	"test": true, "testing": true, "qa": true, "uat": true, "sandbox": true, "preview": true, "local": true, "localhost": true,
	"internal": true, "intranet": true, "demo": true, "tmp": true, "temp": true}

func nonProdHost(h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
	}
	for _, t := range strings.FieldsFunc(h, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if nonProdTokens[t] {
			return true
		}
	}
	return false
}

func ruleNonProdServer(c *auditCtx) {
	for _, s := range c.serverSites() {
		if _, host, ok := serverHost(s.url); ok && nonProdHost(host) {
			c.report(s.ptr, nil, "", fmt.Sprintf("server %q looks like a non-production environment", s.url))
		}
	}
}

var versionSegRe = regexp.MustCompile(`^v([0-9]+)(?:[.][0-9]+)?$`)

func ruleVersions(c *auditCtx) {
	if openapi.Model(c.spec).Info == nil || strings.TrimSpace(openapi.Model(c.spec).Info.Version) == "" {
		c.report("/info", nil, "", "info.version is empty")
	}
	// path versions: /v1/..., /api/v2/...
	type ver struct {
		n      int
		ops    []*openapi.Operation
		undepr []*openapi.Operation
	}
	vers := map[string]*ver{}
	for _, op := range c.spec.Operations {
		for _, seg := range strings.Split(op.Template, "/") {
			m := versionSegRe.FindStringSubmatch(strings.ToLower(seg))
			if m == nil {
				continue
			}
			v := vers[seg]
			if v == nil {
				n := 0
				fmt.Sscan(m[1], &n)
				v = &ver{n: n}
				vers[seg] = v
			}
			v.ops = append(v.ops, op)
			if !boolTrue(openapi.Op(op).Deprecated) {
				v.undepr = append(v.undepr, op)
			}
			break
		}
	}
	if len(vers) < 2 {
		return
	}
	names := sortedKeys(vers)
	sort.SliceStable(names, func(i, j int) bool { return vers[names[i]].n < vers[names[j]].n })
	latest := names[len(names)-1]
	for _, name := range names[:len(names)-1] {
		v := vers[name]
		if len(v.undepr) == 0 || v.n == vers[latest].n {
			continue
		}
		op := v.undepr[0]
		c.report(op.Pointer, op, name, fmt.Sprintf("path version %s (%d operations, %d not deprecated) is served alongside %s", name, len(v.ops), len(v.undepr), latest))
	}
}

// URLLike reports whether a parameter or property name suggests a URL or
// redirect target.
func URLLike(name string) bool {
	n := normName(name)
	switch n {
	case "redirect", "redirectto", "returnto", "return", "next", "callback", "webhook", "target", "dest", "destination",
		"continue", "href", "link", "endpoint", "host", "proxy", "fetch", "feed", "src", "source", "domain", "goto", "forward":
		return true
	}
	for _, p := range []string{"redirect", "callback", "webhook"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return strings.HasSuffix(n, "url") || strings.HasSuffix(n, "uri") || strings.HasSuffix(n, "urls") || strings.HasSuffix(n, "uris")
}

func ruleURLInput(c *auditCtx) {
	c.requestSites(func(st *site) {
		name := st.param
		if name == "" {
			if i := strings.LastIndex(st.ptr, "/properties/"); i >= 0 {
				name = unescape(st.ptr[i+len("/properties/"):])
			}
		}
		uriFormat := hasType(st.s, "string") && (strings.EqualFold(st.s.Format, "uri") || strings.EqualFold(st.s.Format, "url") || strings.EqualFold(st.s.Format, "iri"))
		if !(name != "" && URLLike(name) && (hasType(st.s, "string") || len(st.s.Type) == 0)) && !uriFormat {
			return
		}
		if len(st.s.Enum) > 0 || st.s.Const != nil {
			return
		}
		label := name
		if label == "" {
			label = "schema"
		}
		c.report(st.ptr, st.op, "", fmt.Sprintf("input %q is URL-like (format %q)", label, st.s.Format))
	})
}
