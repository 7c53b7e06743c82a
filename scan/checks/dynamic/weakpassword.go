package dynamic

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// WeakPassword (GH2033) registers throwaway accounts with weak passwords
// ("123456" and a 3-character one) on registration operations
// (a POST, not the login, whose JSON body has a user-like and a
// password-like field) and reports when one of them then logs in through
// the scan's login operation and gets a token: the API accepted, and
// uses, a password any guessing attack tries first. An answer of 2xx to
// the registration alone is not enough (message-only or 200-on-error
// APIs): only a login that returns a token confirms it. State-changing:
// not run in safe mode; each weak password creates at most one account,
// under a fresh random username.
type WeakPassword struct{}

var _ scan.Check = WeakPassword{}

// Meta implements scan.Check.
func (WeakPassword) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2033", Title: "Weak password accepted at registration", Category: "authn",
		Severity: scan.Medium, OWASP: scan.API2Authn, CWE: "CWE-521",
		Description: "The API registered an account with a password from the top of every guessing list (or 3 characters long) and that account logged in with it.",
		Remediation: "Refuse passwords shorter than 8-12 characters and those in a list of breached or common passwords (NIST SP 800-63B 5.1.1.2), at registration and at every password change.",
		Fix:         "request: { validate: true }   # with minLength on the password property in the contract",
		Intrusive:   true,
	}
}

// weakPasswords are tried in this order; the first accepted one is reported.
// Both are below every length policy (8 characters and up); "password"
// (8 characters, accepted by length-only policies such as the demo's) is
// not tried, so that a minimum length of 8 stays silent.
var weakPasswords = []string{"123456", "abc"}

// Run implements scan.Check.
func (WeakPassword) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	login, luser, lpass := scanLogin(t)
	if login == nil {
		return noLoginIdentity(t)
	}
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodPost && !scan.IsLogin(op) && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	}) {
		base := t.Prepare(op, actor(t, op))
		body := base.BodyMap()
		if body == nil {
			continue
		}
		ruser, rpass := registrationFields(body, luser, lpass)
		if ruser == "" {
			continue
		}
		for _, pw := range weakPasswords {
			reg := base.Clone()
			user, _ := freshAccount(reg.BodyMap(), ruser, rpass, true)
			reg.BodyMap()[rpass] = pw
			exReg, err := t.Send(ctx, reg, actor(t, op))
			if err != nil {
				return stopErr(ctx, err)
			}
			if !exReg.OK() {
				continue
			}
			lp := t.Prepare(login, nil)
			lb := lp.BodyMap()
			if lb == nil {
				lb = map[string]any{}
				lp.Body = lb
			}
			lb[luser], lb[lpass] = user, pw
			exLogin, err := t.Send(ctx, lp, nil)
			if err != nil {
				return stopErr(ctx, err)
			}
			if !exLogin.OK() || scan.FindToken(exLogin.Body) == "" {
				continue
			}
			report(scan.Finding{Param: rpass,
				Detail: fmt.Sprintf("%s %s registered the throwaway account %q with the password %q (%d characters), and %s %s logged it in with that password (%d, a token in the answer).",
					op.Method, op.Template, user, pw, len(pw), login.Method, login.Template, exLogin.Status),
			}.At(op).With(exReg, "registration with a weak password").With(exLogin, "login with it"))
			break
		}
	}
	return nil
}
