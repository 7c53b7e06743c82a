package dynamic_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		name, cookie, any string
		want              string // operation|param; "" = silent
		sev               scan.Severity
		missing           string
	}{
		{name: "no flags", cookie: "sid=%s; Path=/", want: "login|sid", sev: scan.Medium, missing: "without Secure, HttpOnly, SameSite"},
		{name: "no SameSite", cookie: "sid=%s; Path=/; Secure; HttpOnly", want: "login|sid", sev: scan.Low, missing: "without SameSite"},
		{name: "SameSite=None", cookie: "sid=%s; Path=/; Secure; HttpOnly; SameSite=None", want: "login|sid", sev: scan.Low, missing: "without SameSite (None)"},
		{name: "no HttpOnly", cookie: "auth_token=%s; Path=/; Secure; SameSite=Strict", want: "login|auth_token", sev: scan.Medium, missing: "without HttpOnly"},
		{name: "on every answer", any: "connect.sid=s%3Aabc.def; Path=/; HttpOnly", want: "health|connect.sid", sev: scan.Medium, missing: "without Secure, SameSite"},
		{name: "PHPSESSID", any: "PHPSESSID=abc123; path=/", want: "health|PHPSESSID", sev: scan.Medium},
		{name: "all flags", cookie: "sid=%s; Path=/; Secure; HttpOnly; SameSite=Lax"},
		{name: "no cookie"},
		{name: "not a session cookie", any: "theme=dark; Path=/"},
		{name: "a cookie that clears the session", any: "session=; Path=/; Max-Age=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newCredAPI(map[string]string{})
			api.Cookie, api.AnyCookie = tc.cookie, tc.any
			res := scanCreds(t, api, false, dynamic.CookieFlags{})
			if tc.want == "" {
				for _, f := range res.Findings {
					t.Errorf("false positive: %s", f.Detail)
				}
			} else {
				if len(res.Findings) != 1 {
					t.Fatalf("findings %+v, want one", res.Findings)
				}
				f := res.Findings[0]
				if f.Operation+"|"+f.Param != tc.want || f.Severity != tc.sev || !strings.Contains(f.Detail, tc.missing) {
					t.Errorf("finding %s %s|%s: %s; want %s %s %q", f.Severity, f.Operation, f.Param, f.Detail, tc.sev, tc.want, tc.missing)
				}
				for tok := range api.issued {
					if strings.Contains(f.Evidence[0].Response+f.Detail, tok) {
						t.Errorf("session id in the evidence")
					}
				}
			}
			if n := res.Checks[0].Requests; n != 1 {
				t.Errorf("%d requests, want 1 (one login)", n)
			}
			for _, op := range []string{"login", "health", "listItems"} {
				if st, why := coverageOf(res, op); st != scan.CoverTested {
					t.Errorf("%s coverage %s (%s), want tested", op, st, why)
				}
			}
		})
	}
}
