package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// evilOrigin is an origin no API should trust.
const evilOrigin = "https://evil.gatehouse-scan.example"

// CORS (GH2061) sends an authenticated GET and a preflight with an
// attacker's Origin; reflecting it (or "null") in
// Access-Control-Allow-Origin is a finding, high when credentials are
// allowed too. "*" without credentials is a public API's right and is not
// reported.
type CORS struct{}

var _ scan.Check = CORS{}

// Meta implements scan.Check.
func (CORS) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2061", Title: "CORS trusts arbitrary origins", Category: "misconfig",
		Severity: scan.High, OWASP: scan.API8Misconfig, CWE: "CWE-942",
		Description: "The API reflects any Origin in Access-Control-Allow-Origin: any website can call it from a victim's browser and read the answers.",
		Remediation: "Allow only the exact origins of your front-ends; never reflect the Origin header.",
		Fix:         "cors: { allow_origins: [\"https://app.example.com\"], allow_credentials: true }",
	}
}

// Run implements scan.Check.
func (CORS) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	var path string
	var who *scan.Identity
	for _, b := range t.Baselines() {
		if b.OK() && b.Request.Method == http.MethodGet {
			path = strings.TrimPrefix(b.Request.URL, t.Base.String())
			who = t.Identity(b.Request.Identity)
			break
		}
	}
	if path == "" {
		path = "/"
	}
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		h := http.Header{"Origin": {evilOrigin}}
		if method == http.MethodOptions {
			h.Set("Access-Control-Request-Method", "GET")
			h.Set("Access-Control-Request-Headers", "authorization")
		}
		var id *scan.Identity
		if method == http.MethodGet {
			id = who
		}
		ex, err := t.Do(ctx, method, path, h, id)
		if err != nil {
			return stopErr(ctx, err)
		}
		acao := ex.Header.Get("Access-Control-Allow-Origin")
		if acao != evilOrigin && acao != "null" {
			continue
		}
		creds := strings.EqualFold(ex.Header.Get("Access-Control-Allow-Credentials"), "true")
		f := scan.Finding{Detail: fmt.Sprintf("%s %s with Origin: %s answered Access-Control-Allow-Origin: %s", method, path, evilOrigin, acao)}
		if creds {
			f.Detail += " and Access-Control-Allow-Credentials: true: any site can read authenticated answers."
		} else {
			f.Severity = scan.Medium
			f.Detail += "."
		}
		report(f.With(ex, "attacker origin reflected"))
		return nil
	}
	return nil
}
