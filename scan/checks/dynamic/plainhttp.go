package dynamic

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// PlainHTTP (GH2065) reports a target reached over http:// that is not a
// loopback address: credentials and tokens cross the network in clear. It
// sends no request.
type PlainHTTP struct{}

var _ scan.Check = PlainHTTP{}

// Meta implements scan.Check.
func (PlainHTTP) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2065", Title: "API served over plain HTTP", Category: "misconfig",
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.Low, OWASP: scan.API8Misconfig, CWE: "CWE-319",
		Description: "The scanned API is reached over unencrypted HTTP on a non-loopback address: tokens, passwords and data can be read and altered on the way.",
		Remediation: "Serve the API over TLS only (redirect or refuse plain HTTP) and send Strict-Transport-Security.",
		Fix:         "{ tls: { cert_file: /etc/gatehouse/tls.crt, key_file: /etc/gatehouse/tls.key }, headers: { preset: strict, hsts_max_age: 8760h } }",
	}
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Run implements scan.Check.
func (PlainHTTP) Run(_ context.Context, t *scan.Target, report func(scan.Finding)) error {
	if t.Base == nil || !strings.EqualFold(t.Base.Scheme, "http") || loopback(t.Base.Hostname()) {
		return nil
	}
	report(scan.Finding{Detail: fmt.Sprintf("The target %s is plain HTTP on a non-loopback host.", t.Base.Redacted())})
	return nil
}
