package dynamic

import (
	"context"
	"fmt"
	"regexp"
	"sort"

	"github.com/gatehouse/gatehouse/scan"
)

// VersionDisclosure (GH2062) reads the response headers of the crawl: a
// Server header with a version number, or any X-Powered-By,
// X-AspNet-Version, X-AspNetMvc-Version or X-Generator header, is a finding.
type VersionDisclosure struct{}

var _ scan.Check = VersionDisclosure{}

// Meta implements scan.Check.
func (VersionDisclosure) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2062", Title: "Server software and version disclosed in headers", Category: "misconfig",
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.Low, OWASP: scan.API8Misconfig, CWE: "CWE-200",
		Description: "Response headers name the server software and its version, which tells attackers which known vulnerabilities to try.",
		Remediation: "Remove Server version details and X-Powered-By style headers.",
		Fix:         "headers: { preset: strict }   # strips Server and X-Powered-By",
	}
}

var versionRe = regexp.MustCompile(`\d+\.\d+`)

// Run implements scan.Check.
func (VersionDisclosure) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	found := map[string]string{}
	var ev *scan.Exchange
	for _, ex := range t.Baselines() {
		for _, k := range []string{"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Generator"} {
			v := ex.Header.Get(k)
			if v == "" || (k == "Server" && !versionRe.MatchString(v)) {
				continue
			}
			if _, ok := found[k]; !ok {
				found[k] = v
				if ev == nil {
					ev = ex
				}
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	var parts []string
	for k, v := range found {
		parts = append(parts, fmt.Sprintf("%s: %s", k, v))
	}
	sort.Strings(parts)
	report(scan.Finding{Detail: "Headers disclose the software stack: " + join(parts) + "."}.With(ev, "disclosing headers"))
	return nil
}
