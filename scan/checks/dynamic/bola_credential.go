package dynamic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// bolaCredentials is BOLA on credential operations (scan.IsCredentialChange:
// PUT /users/{username}/password and the like), tried only on throwaway
// accounts the scan registers itself, never on the scan's own identities
// (the damage guard refuses those) and never in safe mode. For each such
// operation it registers a victim V and an attacker X (fresh "ghscan<hex>"
// names, strong random passwords) through the spec's registration
// operation, logs both in, checks that a fresh strong password does not
// log in as V, and has X send the change naming V (V's value in the
// operation's user-like path parameter, else in a user-like body field;
// X's own password in a current-password field). The proof is the effect
// on V's login, never the status:
//
//   - V now logs in with the password X chose: a finding; or
//   - X's request was answered 2xx, V's own password no longer logs in,
//     refused exactly as the wrong password was before the change (not a
//     lockout, a 429 or a 5xx), and X does not log in with the new password
//     either: a finding.
//
// An API that refuses, answers 2xx without any effect, or changes the
// caller's own (X's) password instead stays silent. When the operation
// cannot be tried (safe mode, no registration operation, a registration or
// login that fails), its coverage says skipped with the reason.
func bolaCredentials(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	cands := ops(t, func(op *openapi.Operation) bool { return scan.IsCredentialChange(op) && !scan.LooksAdmin(op) })
	if len(cands) == 0 {
		return nil
	}
	skipAll := func(reason string) {
		for _, op := range cands {
			t.MarkCoverage(ctx, op.ID, scan.CoverSkipped, reason)
		}
	}
	if t.Client.Safe() {
		skipAll("safe mode: the credential probe registers throwaway accounts and changes a password")
		return nil
	}
	login, luser, lpass := scanLogin(t)
	if login == nil {
		skipAll("no login identity with a username and a password field to log throwaway accounts in")
		return nil
	}
	regs := ops(t, func(op *openapi.Operation) bool {
		if op.Method != http.MethodPost || scan.IsLogin(op) || scan.IsLogout(op) || scan.IsCredentialChange(op) || scan.LooksAdmin(op) {
			return false
		}
		u, _ := registrationFields(t.Prepare(op, nil).BodyMap(), luser, lpass)
		return u != ""
	})
	if len(regs) == 0 {
		skipAll("no registration operation (a POST with a username and a password field): credential changes are tried only on throwaway accounts the scan registers itself")
		return nil
	}
	for _, op := range cands {
		if !t.Client.Allowed(op.Method) {
			t.MarkCoverage(ctx, op.ID, scan.CoverSkipped, "safe mode forbids "+op.Method)
			continue
		}
		f, reason, err := bolaCredential(ctx, t, op, regs, login, luser, lpass)
		if err != nil {
			return err
		}
		if reason != "" {
			t.MarkCoverage(ctx, op.ID, scan.CoverSkipped, reason)
		}
		if f != nil {
			report(*f)
		}
	}
	return nil
}

// throwaway is an account the scan registered for one probe.
type throwaway struct {
	id       *scan.Identity
	login    string // the value of the login's user field
	password string
	values   map[string]string // registration field → value (username, e-mail)
	reg      *openapi.Operation
}

// registerThrowaway registers a fresh account through the first of regs
// that accepts it and logs it in. It returns the reason when none does.
func registerThrowaway(ctx context.Context, t *scan.Target, regs []*openapi.Operation, login *openapi.Operation, luser, lpass string) (*throwaway, string, error) {
	reason := ""
	for _, reg := range regs {
		who := actor(t, reg)
		p := t.Prepare(reg, who)
		body := p.BodyMap()
		ruser, rpass := registrationFields(body, luser, lpass)
		if ruser == "" {
			continue
		}
		name, pw := freshAccount(body, ruser, rpass, false)
		ex, err := t.Send(ctx, p, who)
		if err != nil {
			if scan.Stop(ctx, err) {
				return nil, "", err
			}
			reason = fmt.Sprintf("registering a throwaway account through %s failed: %v", reg.ID, err)
			continue
		}
		if !ex.OK() {
			reason = fmt.Sprintf("registering a throwaway account through %s was refused (%d)", reg.ID, ex.Status)
			continue
		}
		// Named by its account (unique per scan): nothing harvested for an
		// earlier throwaway is taken for this one's.
		id := scan.NewLoginIdentity(name, login.ID, map[string]string{luser: name, lpass: pw})
		id.Privileged = false
		for _, own := range t.Identities {
			if own.CanLogin() {
				id.Session, id.CSRFHeader = own.Session, own.CSRFHeader
				break
			}
		}
		if err := t.Login(ctx, id); err != nil {
			if scan.Stop(ctx, err) {
				return nil, "", err
			}
			reason = fmt.Sprintf("a throwaway account registered through %s could not log in (%v)", reg.ID, err)
			continue
		}
		values := map[string]string{}
		for k, v := range body {
			if s, ok := v.(string); ok && k != rpass && !scan.SecretName(k) {
				values[k] = s
				id.Learn(s)
			}
		}
		return &throwaway{id: id, login: name, password: pw, values: values, reg: reg}, "", nil
	}
	if reason == "" {
		reason = "no registration operation could create a throwaway account"
	}
	return nil, reason, nil
}

// loginWorks reports whether ex is a successful login: 2xx with a token in
// the answer or a session cookie set (a failed login answered 200 with a
// message has neither).
func loginWorks(ex *scan.Exchange) bool {
	return ex.OK() && (scan.FindToken(ex.Body) != "" || len(sessionCookies(ex)) > 0)
}

// strongPassword returns a fresh random password no policy refuses, ending
// in suffix (registrations and changed passwords end differently, so a
// test can tell whose password it sees).
func strongPassword(suffix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "Gh-" + hex.EncodeToString(b[:]) + suffix
}

// victimValue returns the value naming v for path parameter param of op:
// one of v's own values that fits the parameter (its username, e-mail, a
// token claim such as sub), never one of x's.
func victimValue(t *scan.Target, op *openapi.Operation, param string, v, x *throwaway, last bool) string {
	cands := t.OwnedParam(op, param, v.id)
	if len(cands) == 0 && last {
		cands = v.id.Self() // {id} on /users/{id}/password: a token claim
	}
	for _, c := range cands {
		if !x.id.IsSelf(c) && (!strings.Contains(strings.ToLower(param), "mail") || strings.Contains(c, "@")) {
			return c
		}
	}
	return ""
}

// bodyUserValue returns v's value for a user-like body field k (username,
// user, email, login, account...), "" when k is none.
func bodyUserValue(k string, v *throwaway) string {
	if !scan.IdentityParam(k) && !strings.Contains(strings.ToLower(k), "mail") {
		return ""
	}
	if s, ok := v.values[k]; ok {
		return s
	}
	if strings.Contains(strings.ToLower(k), "mail") {
		for f, s := range v.values {
			if strings.Contains(strings.ToLower(f), "mail") {
				return s
			}
		}
		return ""
	}
	return v.login
}

// bolaCredential tries one credential operation; it returns the finding, or
// the reason the operation could not be tried.
func bolaCredential(ctx context.Context, t *scan.Target, op *openapi.Operation, regs []*openapi.Operation, login *openapi.Operation, luser, lpass string) (*scan.Finding, string, error) {
	v, reason, err := registerThrowaway(ctx, t, regs, login, luser, lpass)
	if v == nil {
		return nil, reason, err
	}
	x, reason, err := registerThrowaway(ctx, t, regs, login, luser, lpass)
	if x == nil {
		return nil, reason, err
	}
	p := t.Prepare(op, x.id)
	named, param, val := "", "", ""
	for i, prm := range pathParams(op.Template) {
		if s := victimValue(t, op, prm, v, x, i == 0); s != "" {
			p.Path[prm] = s
			named, param, val = fmt.Sprintf("path parameter %s=%s", prm, s), prm, s
			break
		}
	}
	body := p.BodyMap()
	if body == nil {
		body = map[string]any{}
		p.Body = body
	}
	newPw := strongPassword("-New-Pw7")
	pwFields := 0
	_, extField := scan.CredentialExtension(op) // the gateway's mark names the new-password field
	if _, ok := body[extField]; extField != "" && !ok {
		body[extField] = ""
	}
	for k, val := range body {
		if _, ok := val.(string); !ok && val != nil {
			continue
		}
		switch {
		case k == extField:
			body[k] = newPw
			pwFields++
		case scan.CurrentPasswordField(k):
			body[k] = x.password // the attacker knows only its own
		case scan.PasswordField(k):
			body[k] = newPw
			pwFields++
		default:
			if s := bodyUserValue(k, v); s != "" {
				body[k] = s
				if named == "" {
					named, param, val = fmt.Sprintf("body field %s=%s", k, s), k, s
				}
			}
		}
	}
	if pwFields == 0 {
		return nil, "no new-password field in its request body", nil
	}
	if named == "" {
		return nil, "the request names no account (no user-like path parameter or body field): it can change only the caller's own credential", nil
	}
	try := func(acct *throwaway, pass string) (*scan.Exchange, bool, error) {
		ex, err := t.Send(ctx, loginRequest(t, login, map[string]string{luser: acct.login, lpass: pass}), nil)
		if err != nil {
			return nil, false, stopErr(ctx, err)
		}
		return ex, loginWorks(ex), nil
	}
	before, works, err := try(v, newPw)
	if err != nil || before == nil {
		return nil, "", err
	}
	if works {
		return nil, "inconclusive: the login accepted a password the throwaway victim never had", nil
	}
	exX, err := t.Send(ctx, p, x.id)
	if err != nil {
		if errors.Is(err, scan.ErrUnsafe) {
			return nil, "", nil // the guard's or safe mode's reason is in the coverage
		}
		return nil, "", stopErr(ctx, err)
	}
	after, newWorks, err := try(v, newPw)
	if err != nil || after == nil {
		return nil, "", err
	}
	var how string
	f := scan.Finding{}
	if newWorks {
		how = fmt.Sprintf("the victim's account now logs in with the password the attacker chose (%s %s answered %d with a token)", login.Method, login.Template, after.Status)
		f = f.With(exX, "the attacker (throwaway account "+x.login+") changes the victim's password").
			With(after, "the victim's account logs in with the attacker's password").
			With(before, "before the change, that password did not log in")
	} else {
		if !exX.OK() {
			return nil, "", nil // refused, and no effect
		}
		old, oldWorks, err := try(v, v.password)
		if err != nil || old == nil {
			return nil, "", err
		}
		if oldWorks || old.Status == http.StatusTooManyRequests || old.Status >= 500 {
			return nil, "", nil // nothing changed for the victim (or throttled: no verdict)
		}
		if old.Status != before.Status || scan.Similarity(old.Body, before.Body) < 0.9 {
			return nil, "", nil // not refused like a wrong password (locked out after two failures?): no verdict
		}
		exOwn, ownWorks, err := try(x, newPw)
		if err != nil || exOwn == nil {
			return nil, "", err
		}
		if ownWorks {
			return nil, "", nil // the caller's own password changed: not BOLA
		}
		how = fmt.Sprintf("the victim's own password no longer logs in (%s %s answered %d without a token), and the attacker's account does not log in with the new one either", login.Method, login.Template, old.Status)
		f = f.With(exX, "the attacker (throwaway account "+x.login+") changes the victim's password").
			With(old, "the victim's own password no longer logs in").
			With(exOwn, "the change did not hit the attacker's own account")
	}
	f.Param, f.Key, f.Severity = param, "credential", scan.Critical
	f.Title = "Broken object level authorization: another user's password can be changed (account takeover)"
	f.Detail = fmt.Sprintf("Throwaway account %s (registered by the scan through %s) sent %s %s naming throwaway account %s (%s) with a new password; it answered %d and %s. Any logged-in user can take over any account.",
		x.login, x.reg.ID, op.Method, op.Template, v.login, named, exX.Status, how)
	f.Remediation = "Take the account whose credential changes from the verified token, never from the path or the body, and require the current password; an administrator's reset belongs in a separate, audited operation."
	f.Fix = credentialFix(op, param, val, v)
	f = f.At(op)
	return &f, "", nil
}

// credentialFix is GH2010's ownership rule for op's parameter param (a
// path parameter or body field: the owner rule checks both), with the
// token claim that holds val, the value naming the victim (tokens without
// sub name their holder by username or e-mail); sub when none does.
func credentialFix(op *openapi.Operation, param, val string, v *throwaway) string {
	claim := "sub"
	if j, ok := scan.ParseJWT(v.id.Token()); ok {
		if s, _ := j.Claims["sub"].(string); s != val {
			for k, c := range j.Claims {
				if s, _ := c.(string); s == val {
					claim = k
					break
				}
			}
		}
	}
	return fmt.Sprintf("authz: { rules: { %s: { owner: { param: %s, claim: %s } } } }", yamlQuote(op.ID), yamlQuote(param), yamlQuote(claim))
}
