package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// CookieFlags (GH2066) reports session-like cookies (session, sid, token,
// auth, jwt, connect.sid, PHPSESSID, JSESSIONID...) set without Secure,
// HttpOnly or SameSite. It reads the Set-Cookie headers of every answer the
// crawl got and of one login per login operation of a login identity (the
// only request it sends). One finding per cookie name, naming the missing
// flags: HttpOnly or Secure missing is medium, only SameSite missing (or
// SameSite=None) low. Secure is required whatever the target's scheme: a
// cookie without it travels in clear the first time anything sends it
// over http. Cookies that clear a session (empty value, Max-Age<0) are
// ignored.
type CookieFlags struct{}

var _ scan.Check = CookieFlags{}

// Meta implements scan.Check.
func (CookieFlags) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2066", Title: "Session cookie without Secure, HttpOnly or SameSite", Category: "misconfig",
		Severity: scan.Medium, OWASP: scan.API8Misconfig, CWE: "CWE-614",
		Description: "A cookie that carries a session or a credential is set without Secure (sent over plain http), HttpOnly (readable by any script on the page, so by an XSS) or SameSite (sent with cross-site requests: CSRF).",
		Remediation: "Set session cookies with Secure; HttpOnly; SameSite=Lax (or Strict), and a Path and lifetime no wider than needed.",
		Fix:         "cookies: { secure: true, http_only: true, same_site: lax }   # gatehouse adds the attributes to every cookie the API sets",
		// Its login comes after the login probes of the probe phase.
		Phase: scan.PhaseState,
	}
}

// missingFlags returns the protections c lacks, and whether one of them is
// Secure or HttpOnly.
func missingFlags(c *http.Cookie) (missing []string, serious bool) {
	if !c.Secure {
		missing = append(missing, "Secure")
	}
	if !c.HttpOnly {
		missing = append(missing, "HttpOnly")
	}
	serious = len(missing) > 0
	switch c.SameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		missing = append(missing, "SameSite (None)")
	default:
		missing = append(missing, "SameSite")
	}
	return missing, serious
}

// Run implements scan.Check.
func (CookieFlags) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	seen := map[string]bool{}
	judge := func(ex *scan.Exchange, op *openapi.Operation, how string) {
		for _, c := range sessionCookies(ex) {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			missing, serious := missingFlags(c)
			if len(missing) == 0 {
				continue
			}
			sev := scan.Low
			if serious {
				sev = scan.Medium
			}
			var attrs []string
			if c.Path != "" {
				attrs = append(attrs, "Path="+c.Path)
			}
			if c.Domain != "" {
				attrs = append(attrs, "Domain="+c.Domain)
			}
			sort.Strings(attrs)
			f := scan.Finding{Param: c.Name, Key: c.Name, Severity: sev,
				Detail: fmt.Sprintf("%s sets the session cookie %q without %s (attributes: %s).",
					how, c.Name, strings.Join(missing, ", "), orNone(strings.Join(attrs, "; "))),
			}
			report(f.At(op).With(ex, "Set-Cookie of "+c.Name+" (value redacted)"))
		}
	}
	// The login answers first: that is where sessions start.
	done := map[string]bool{}
	for _, id := range t.Identities {
		op := t.Operation(id.LoginOp)
		if !id.CanLogin() || op == nil || done[op.ID] || len(id.LoginFields) == 0 {
			continue
		}
		done[op.ID] = true
		p := loginRequest(t, op, id.LoginFields)
		ex, err := t.Send(ctx, p, nil)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		judge(ex, op, fmt.Sprintf("The login %s %s (as %s, %d)", op.Method, op.Template, id.Name, ex.Status))
	}
	for _, ex := range t.Baselines() {
		op := t.Operation(ex.Request.Op)
		if op == nil {
			continue
		}
		t.MarkCoverage(ctx, op.ID, scan.CoverTested, "")
		judge(ex, op, fmt.Sprintf("%s %s (%d)", op.Method, op.Template, ex.Status))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
