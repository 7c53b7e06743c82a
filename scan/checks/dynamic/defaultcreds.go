package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// DefaultCredentials (GH2008) tries a short, fixed list of default
// username/password pairs (admin/admin, root/root, test/test...) on each
// login operation and reports the first one that logs in. A success is a
// token in the answer (scan.FindToken) or a new session cookie, or a 2xx
// where a surely-wrong login (a random unknown user, sent first) is
// refused: a login that answers 200 to everything, or hands a token to
// anyone, is skipped, not reported.
//
// It sends at most 1 + len(DefaultCredentialPairs) failed logins per login
// operation, stops at the first success or at the first sign of
// throttling (429, a rate-limit header), and never tries the usernames the
// scan's own identities log in with, so that a lockout cannot hit them.
// Intrusive (failed logins count towards lockouts): not run in safe mode;
// it runs in the burst phase, before the GH2030 burst.
type DefaultCredentials struct{}

var _ scan.Check = DefaultCredentials{}

// DefaultCredentialPairs are the username/password pairs GH2008 tries, in
// this order.
var DefaultCredentialPairs = [][2]string{
	{"admin", "admin"},
	{"admin", "password"},
	{"admin", "admin123"},
	{"admin", "changeme"},
	{"admin", "123456"},
	{"administrator", "administrator"},
	{"root", "root"},
	{"root", "toor"},
	{"test", "test"},
	{"user", "user"},
	{"guest", "guest"},
	{"demo", "demo"},
	{"admin", "secret"},
}

// Meta implements scan.Check.
func (DefaultCredentials) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2008", Title: "Default credentials accepted on login", Category: "authn",
		Severity: scan.Critical, OWASP: scan.API2Authn, CWE: "CWE-1392",
		Description: "The login operation accepted a well-known default username and password (admin/admin, test/test...): anyone can log in as that account.",
		Remediation: "Remove default and test accounts from deployed systems, or force a password change on first use; refuse common passwords at every password change.",
		Fix:         "# no gateway setting replaces changing the account's password; a login rate limit (see GH2030) slows guessing",
		Intrusive:   true,
		Phase:       scan.PhaseBurst,
	}
}

// loginSucceeded reports whether ex is a successful login compared with
// fail, the answer to a surely-wrong one: a token or a new session cookie in
// a 2xx, or a 2xx where the wrong login got none.
func loginSucceeded(ex, fail *scan.Exchange) bool {
	if !ex.OK() {
		return false
	}
	if scan.FindToken(ex.Body) != "" {
		return true
	}
	if len(sessionCookies(ex)) > 0 && len(sessionCookies(fail)) == 0 {
		return true
	}
	return !fail.OK() && granted(ex)
}

// loginBody returns a login request for op with user and pass in the user
// and password fields (and the schema's values in the others).
func loginBody(t *scan.Target, op *openapi.Operation, ufield, pfield, user, pass string) *scan.Prepared {
	return t.LoginRequest(op, map[string]string{ufield: user, pfield: pass})
}

// Run implements scan.Check.
func (DefaultCredentials) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	own := scanUsernames(t)
	logins, guessed := 0, 0
	why := ""
	for _, op := range ops(t, func(op *openapi.Operation) bool { return scan.IsLogin(op) && op.Method == http.MethodPost }) {
		ufield, pfield := loginOpFields(t, op)
		if ufield == "" || pfield == "" {
			t.MarkCoverage(ctx, op.ID, scan.CoverSkipped, "no username and password fields in the login body")
			continue
		}
		fail, err := t.Send(ctx, loginBody(t, op, ufield, pfield, randomTag(), randomTag()+"-Wrong"), nil)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		logins++
		switch {
		case rateLimited(fail):
			why = "the login is throttled"
			continue
		case fail.OK() && (scan.FindToken(fail.Body) != "" || len(sessionCookies(fail)) > 0):
			why = "the login answers a token or session to an unknown user"
			continue
		}
		tried := 0
		for _, pair := range DefaultCredentialPairs {
			if own[strings.ToLower(pair[0])] {
				continue // one of the scan's own accounts: never risk its lockout
			}
			ex, err := t.Send(ctx, loginBody(t, op, ufield, pfield, pair[0], pair[1]), nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			tried++
			if tried == 1 {
				guessed++
			}
			if rateLimited(ex) {
				break
			}
			if !loginSucceeded(ex, fail) {
				continue
			}
			how := "a token in the answer"
			switch {
			case scan.FindToken(ex.Body) != "":
			case len(sessionCookies(ex)) > 0:
				how = "a session cookie (" + sessionCookies(ex)[0].Name + ")"
			default:
				how = fmt.Sprintf("a %d where a wrong login gets %d", ex.Status, fail.Status)
			}
			report(scan.Finding{Param: ufield,
				Detail: fmt.Sprintf("%s %s logged in as %q with the default password %q (%s), after %d attempt%s.",
					op.Method, op.Template, pair[0], pair[1], how, tried, pluralN(tried)),
			}.At(op).With(ex, "login with default credentials").With(fail, "a wrong login, for comparison"))
			break
		}
	}
	if logins > 0 && guessed == 0 && why != "" {
		return scan.Skip("%s: no default pair was tried", why)
	}
	return nil
}
