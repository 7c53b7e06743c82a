package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// SecurityHeaders (GH2060) judges the headers of an authenticated JSON
// answer the way they matter for APIs (not HTML pages): nosniff, a framing
// ban (CSP frame-ancestors or X-Frame-Options), Cache-Control: no-store for
// personal data, and HSTS over HTTPS.
type SecurityHeaders struct{}

var _ scan.Check = SecurityHeaders{}

// Meta implements scan.Check.
func (SecurityHeaders) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2060", Title: "Security headers missing on API responses", Category: "misconfig",
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.Low, OWASP: scan.API8Misconfig, CWE: "CWE-693",
		Description: "API responses lack headers that stop MIME sniffing, framing, caching of personal data or protocol downgrade.",
		Remediation: "Send X-Content-Type-Options: nosniff, Content-Security-Policy: frame-ancestors 'none', Cache-Control: no-store on authenticated answers, and HSTS over HTTPS.",
		Fix:         "headers: { preset: strict }",
	}
}

// Run implements scan.Check.
func (SecurityHeaders) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	var ex *scan.Exchange
	for _, b := range t.Baselines() {
		if b.OK() && b.Request.Method == http.MethodGet && b.Request.Identity != "" {
			ex = b
			break
		}
	}
	if ex == nil {
		for _, b := range t.Baselines() {
			if b.OK() {
				ex = b
				break
			}
		}
	}
	if ex == nil {
		return nil
	}
	h := ex.Header
	var missing []string
	if !strings.EqualFold(strings.TrimSpace(h.Get("X-Content-Type-Options")), "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if h.Get("X-Frame-Options") == "" && !strings.Contains(strings.ToLower(h.Get("Content-Security-Policy")), "frame-ancestors") {
		missing = append(missing, "Content-Security-Policy: frame-ancestors 'none' (or X-Frame-Options: DENY)")
	}
	if ex.Request.Identity != "" && !strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-store") {
		missing = append(missing, "Cache-Control: no-store")
	}
	if t.Base.Scheme == "https" && h.Get("Strict-Transport-Security") == "" {
		missing = append(missing, "Strict-Transport-Security")
	}
	if len(missing) == 0 {
		return nil
	}
	f := scan.Finding{Detail: fmt.Sprintf("The answer to %s %s lacks: %s.", ex.Request.Method, ex.Request.URL, strings.Join(missing, "; "))}.With(ex, "response headers")
	report(f)
	return nil
}
