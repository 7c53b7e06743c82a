package dynamic_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestDefaultCredentials(t *testing.T) {
	maxLogins := 1 + 1 + len(dynamic.DefaultCredentialPairs) // identity login, wrong-login probe, pairs
	for _, tc := range []struct {
		name    string
		api     *credAPI
		want    string // substring of the finding's detail; "" = silent
		attempt string // a username that must (or, with "!", must not) have been tried
	}{
		{name: "admin/changeme", api: newCredAPI(map[string]string{"admin": "changeme"}), want: `"admin" with the default password "changeme" (a token`},
		{name: "test/test behind 200-on-failure", api: func() *credAPI {
			a := newCredAPI(map[string]string{"test": "test"})
			a.FailStatus = 200
			return a
		}(), want: `"test" with the default password "test"`},
		{name: "cookie session", api: func() *credAPI {
			a := newCredAPI(map[string]string{"guest": "guest"})
			a.FailStatus, a.Cookie, a.CookieOnly = 200, "sid=%s; Path=/; HttpOnly; Secure; SameSite=Lax", true
			return a
		}(), want: `a session cookie (sid)`},
		{name: "no default account", api: newCredAPI(map[string]string{"admin": "a-real-Secret-9"}), attempt: "root"},
		{name: "200 to every failed login", api: func() *credAPI {
			a := newCredAPI(map[string]string{"admin": "a-real-Secret-9"})
			a.FailStatus = 200
			return a
		}()},
		{name: "token to anyone", api: func() *credAPI {
			a := newCredAPI(map[string]string{})
			a.TokenToAll = true
			return a
		}(), attempt: "!admin"},
		{name: "throttled after 3 failures", api: func() *credAPI {
			a := newCredAPI(map[string]string{"demo": "demo"}) // late in the list: never reached
			a.LimitAfter = 3
			return a
		}(), attempt: "!guest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := scanCreds(t, tc.api, false, dynamic.DefaultCredentials{})
			switch {
			case tc.want == "" && len(res.Findings) > 0:
				t.Errorf("false positive: %s", res.Findings[0].Detail)
			case tc.want != "" && len(res.Findings) != 1:
				t.Fatalf("findings %+v, want one", res.Findings)
			case tc.want != "":
				f := res.Findings[0]
				if !strings.Contains(f.Detail, tc.want) || f.Severity != scan.Critical || f.Operation != "login" || f.Param != "username" {
					t.Errorf("finding %s %s %s: %s; want critical on login/username with %q", f.Severity, f.Operation, f.Param, f.Detail, tc.want)
				}
				if len(f.Evidence) != 2 || f.Curl == "" {
					t.Errorf("evidence %d, curl %q", len(f.Evidence), f.Curl)
				}
			}
			logins := 0
			for _, n := range tc.api.attempts {
				logins += n
			}
			if logins > maxLogins {
				t.Errorf("%d logins, want at most %d", logins, maxLogins)
			}
			if tc.api.attempts["mila"] != 1 {
				t.Errorf("the scan's own account got %d logins, want only its own 1", tc.api.attempts["mila"])
			}
			if u, never := strings.CutPrefix(tc.attempt, "!"); never && tc.api.attempts[u] > 0 {
				t.Errorf("%q tried %d times", u, tc.api.attempts[u])
			} else if !never && u != "" && tc.api.attempts[u] == 0 {
				t.Errorf("%q never tried (attempts %v)", u, tc.api.attempts)
			}
			if st, why := coverageOf(res, "login"); st != scan.CoverTested {
				t.Errorf("login coverage %s (%s), want tested", st, why)
			}
		})
	}

	t.Run("stops at the first success", func(t *testing.T) {
		api := newCredAPI(map[string]string{"admin": "admin", "root": "root"})
		res := scanCreds(t, api, false, dynamic.DefaultCredentials{})
		if len(res.Findings) != 1 || api.attempts["root"] != 0 {
			t.Errorf("findings %d, root tried %d times; want 1 and 0", len(res.Findings), api.attempts["root"])
		}
	})
	t.Run("never guesses the scan's own usernames", func(t *testing.T) {
		api := newCredAPI(map[string]string{"admin": "changeme"})
		// The scan runs as mila and as "admin" (whose real password it knows).
		res := scanCredsAs(t, api, map[string]string{"admin": "changeme"}, dynamic.DefaultCredentials{})
		if api.attempts["admin"] != 1 || len(res.Findings) != 0 {
			t.Errorf("admin logins %d (want only the identity's own), findings %d", api.attempts["admin"], len(res.Findings))
		}
	})
	t.Run("token to anyone: one probe, no guess", func(t *testing.T) {
		api := newCredAPI(map[string]string{})
		api.TokenToAll = true
		res := scanCreds(t, api, false, dynamic.DefaultCredentials{})
		if n := res.Checks[0].Requests; n != 1 {
			t.Errorf("%d requests, want only the wrong-login probe", n)
		}
		if c := res.Checks[0]; c.Status != "skipped" || !strings.Contains(c.Skipped, "unknown user") {
			t.Errorf("status %s (%s), want skipped", c.Status, c.Skipped)
		}
	})
	t.Run("safe mode", func(t *testing.T) {
		api := newCredAPI(map[string]string{"admin": "admin"})
		res := scanCreds(t, api, true, dynamic.DefaultCredentials{})
		if len(res.Findings) != 0 || api.attempts["admin"] != 0 || res.Checks[0].Status != "skipped" {
			t.Errorf("safe mode: %d findings, admin tried %d times, status %s", len(res.Findings), api.attempts["admin"], res.Checks[0].Status)
		}
	})
}
