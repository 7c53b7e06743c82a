package dynamic

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// Trace (GH2063) sends TRACE with a marker header; an answer that echoes
// the marker is a finding (cross-site tracing can read credentials from
// echoed headers).
type Trace struct{}

var _ scan.Check = Trace{}

// Meta implements scan.Check.
func (Trace) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2063", Title: "HTTP TRACE enabled", Category: "misconfig",
		Severity: scan.Low, OWASP: scan.API8Misconfig, CWE: "CWE-693",
		Description: "The server answers TRACE by echoing the request, headers included.",
		Remediation: "Disable TRACE (and any method the API does not use).",
		Fix:         "# the gateway only routes the methods the contract declares; TRACE gets 405",
	}
}

const traceMarker = "ghscan-trace-marker"

// Run implements scan.Check.
func (Trace) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	ex, err := t.Do(ctx, http.MethodTrace, "/", http.Header{"X-Gatehouse-Scan": {traceMarker}}, nil)
	if err != nil {
		return stopErr(ctx, err)
	}
	if ex.OK() && strings.Contains(string(ex.Body), traceMarker) {
		report(scan.Finding{Detail: "TRACE / answered " + http.StatusText(ex.Status) + " and echoed the request headers."}.With(ex, "TRACE echo"))
	}
	return nil
}
