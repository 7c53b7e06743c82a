package dynamic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"

	"github.com/gatehouse/gatehouse/scan"
)

// ExposedDebug (GH2064) requests well-known docs and debug endpoints and
// reports one only when it answers 200 with that endpoint's own signature
// and a random path on the same target does not carry the signature (a
// catch-all 200 page is not reported).
type ExposedDebug struct{}

var _ scan.Check = ExposedDebug{}

// Meta implements scan.Check.
func (ExposedDebug) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2064", Title: "Debug or documentation endpoint exposed", Category: "misconfig",
		Severity: scan.Medium, OWASP: scan.API8Misconfig, CWE: "CWE-215",
		Description: "A debug, environment or documentation endpoint is reachable: it discloses configuration, secrets, memory profiles or the full API surface.",
		Remediation: "Remove debug endpoints from production builds or bind them to a separate, internal listener.",
		Fix:         "spec: openapi.yaml   # the gateway answers 404 to every path the contract does not declare: keep debug paths out of it",
	}
}

type debugEndpoint struct {
	path string
	sig  *regexp.Regexp
	sev  scan.Severity
	what string
}

var debugEndpoints = []debugEndpoint{
	{"/debug/pprof/", regexp.MustCompile(`(?i)<title>/debug/pprof/</title>|Types of profiles available`), scan.High, "Go pprof profiles"},
	{"/debug/vars", regexp.MustCompile(`"memstats"\s*:\s*\{`), scan.Medium, "Go expvar memory statistics"},
	{"/actuator/env", regexp.MustCompile(`"propertySources"\s*:`), scan.High, "Spring Boot environment"},
	{"/actuator/heapdump", regexp.MustCompile(`^JAVA PROFILE`), scan.High, "Java heap dump"},
	{"/.env", regexp.MustCompile(`(?m)^(DB_|DATABASE_|APP_KEY|SECRET|AWS_|API_KEY|REDIS_)[A-Z0-9_]*=`), scan.High, "dotenv file with secrets"},
	{"/server-status", regexp.MustCompile(`Apache Server Status for`), scan.Medium, "Apache server-status"},
	{"/phpinfo.php", regexp.MustCompile(`(?i)<title>phpinfo\(\)</title>`), scan.Medium, "phpinfo page"},
	{"/swagger-ui/", regexp.MustCompile(`(?i)swagger-ui(-bundle)?\.(js|css)`), scan.Low, "Swagger UI"},
	{"/graphql?query=%7B__schema%7Btypes%7Bname%7D%7D%7D", regexp.MustCompile(`"__schema"\s*:\s*\{`), scan.Low, "GraphQL introspection"},
}

// Run implements scan.Check.
func (ExposedDebug) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	random, err := t.Do(ctx, http.MethodGet, "/ghscan-"+hex.EncodeToString(rnd)+"/", nil, nil)
	if err != nil {
		return stopErr(ctx, err)
	}
	for _, e := range debugEndpoints {
		if random.Status == http.StatusOK && e.sig.Match(random.Body) {
			continue // a catch-all page carries the signature everywhere
		}
		ex, err := t.Do(ctx, http.MethodGet, e.path, nil, nil)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if ex.Status != http.StatusOK || !e.sig.Match(ex.Body) {
			continue
		}
		report(scan.Finding{
			Severity: e.sev,
			Key:      e.path,
			Param:    e.path,
			Detail:   fmt.Sprintf("GET %s answered 200 with the signature of %s (a random path answered %d without it), to anonymous callers.", e.path, e.what, random.Status),
		}.With(ex, e.what))
	}
	return nil
}
