package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// CredentialsInURL (GH2009) proves that the API accepts credentials in the
// query string, where they end up in access logs, proxy logs, browser
// history and Referer headers:
//
//   - tokens: on one operation that an identity passes and an anonymous
//     caller fails with 401/403 (the GH2002 probe), the identity's token (or
//     API key) is sent as a query parameter (QueryCredentialParams, in
//     order) without any header; a real 2xx with the identity's status, where
//     the same parameter with a garbage value is refused, is a finding;
//   - passwords: each login operation of a login identity is sent with the
//     identity's login fields in the query string and no body; a 2xx with a
//     token, where the same query with a wrong password gets none, is a
//     finding.
//
// It runs in the state phase, after the login probes, because its query
// login is one more login. The query login writes the scan identity's
// password into the target's access log once per login operation: the
// price of proving it (scan with test accounts).
type CredentialsInURL struct{}

var _ scan.Check = CredentialsInURL{}

// QueryCredentialParams are the query parameter names GH2009 sends a token
// in, in this order.
var QueryCredentialParams = []string{"access_token", "token", "api_key", "apikey", "jwt", "key"}

// Meta implements scan.Check.
func (CredentialsInURL) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2009", Title: "Credentials accepted in the URL query string", Category: "authn",
		Severity: scan.Medium, OWASP: scan.API2Authn, CWE: "CWE-598",
		Description: "The API accepted a token, API key or password in the query string: URLs are written to access and proxy logs, browser history and Referer headers, so the credential leaks.",
		Remediation: "Read credentials only from the Authorization header (or a dedicated header, or an HttpOnly cookie) and the login's request body; ignore or refuse them in the query string.",
		Fix:         "request: { reject_unknown_query: true }   # undeclared query parameters (access_token, password...) get 400; gatehouse reads tokens from the Authorization header by default",
		Phase:       scan.PhaseState,
	}
}

// credentialOf returns the secret id sends: its bearer token, else the value
// of a key-like header of its static headers; "" when none.
func credentialOf(id *scan.Identity) string {
	if tok := id.Token(); tok != "" {
		return tok
	}
	h := http.Header{}
	id.Apply(h)
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok && v != "" {
		return v
	}
	for k := range h {
		l := strings.ToLower(k)
		if strings.Contains(l, "key") || strings.Contains(l, "token") {
			return h.Get(k)
		}
	}
	return ""
}

// Run implements scan.Check.
func (c CredentialsInURL) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	if err := c.tokens(ctx, t, report); err != nil {
		return err
	}
	return c.logins(ctx, t, report)
}

func (CredentialsInURL) tokens(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	var id *scan.Identity
	for _, i := range append(t.Users(), t.Admins()...) {
		if credentialOf(i) != "" {
			id = i
			break
		}
	}
	if id == nil {
		return nil
	}
	op, p, base, err := probe(ctx, t, id)
	if err != nil || op == nil {
		return err
	}
	secret := credentialOf(id)
	for _, name := range QueryCredentialParams {
		if _, declared := p.Query[name]; declared {
			continue
		}
		q := p.Clone()
		q.Query.Set(name, secret)
		ex, err := t.Send(ctx, q, nil)
		if err != nil {
			return stopErr(ctx, err)
		}
		if !granted(ex) || ex.Status != base.Status {
			continue
		}
		bad := p.Clone()
		bad.Query.Set(name, randomTag())
		ctrl, err := t.Send(ctx, bad, nil)
		if err != nil {
			return stopErr(ctx, err)
		}
		if granted(ctrl) {
			continue // the parameter is not what lets it in
		}
		report(scrub(scan.Finding{Param: name, Key: "token",
			Detail: fmt.Sprintf("%s %s answered %d to %s's credential sent as the query parameter %q without any header; the same request with a garbage %q got %d, and one without credentials is refused.",
				op.Method, op.Template, ex.Status, id.Name, name, name, ctrl.Status),
		}.At(op).With(ex, "credential in the query string").With(ctrl, "garbage value in the same parameter"), secret))
		break
	}
	return nil
}

func (CredentialsInURL) logins(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	done := map[string]bool{}
	for _, id := range t.Identities {
		op := t.Operation(id.LoginOp)
		if !id.CanLogin() || op == nil || done[op.ID] {
			continue
		}
		user, pass := loginFields(id.LoginFields)
		if user == "" || pass == "" {
			continue
		}
		done[op.ID] = true
		send := func(password string) (*scan.Exchange, error) {
			p := t.Prepare(op, nil)
			p.Body = nil
			for k, v := range id.LoginFields {
				p.Query.Set(k, v)
			}
			p.Query.Set(pass, password)
			return t.Send(ctx, p, nil)
		}
		ex, err := send(id.LoginFields[pass])
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if !ex.OK() || scan.FindToken(ex.Body) == "" {
			continue
		}
		ctrl, err := send(randomTag() + "-Wrong")
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if ctrl.OK() && scan.FindToken(ctrl.Body) != "" {
			continue // a token for any password: not the query that lets it in
		}
		report(scrub(scan.Finding{Param: pass, Key: "login",
			Detail: fmt.Sprintf("%s %s logged %s in (%d, a token in the answer) with %q and %q in the query string and no body; a wrong password there got %d without a token.",
				op.Method, op.Template, id.Name, ex.Status, user, pass, ctrl.Status),
		}.At(op).With(ex, "login with the credentials in the query string").With(ctrl, "wrong password in the query string"), id.LoginFields[pass]))
	}
	return nil
}

// scrub replaces the secrets in f's evidence and curl command with
// "<redacted>": the scan's redaction covers headers, JWTs and token fields,
// not a password or opaque token in a URL.
func scrub(f scan.Finding, secrets ...string) scan.Finding {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, url.QueryEscape(s), "<redacted>", s, "<redacted>")
		}
	}
	r := strings.NewReplacer(pairs...)
	for i := range f.Evidence {
		f.Evidence[i].Request = r.Replace(f.Evidence[i].Request)
		f.Evidence[i].Response = r.Replace(f.Evidence[i].Response)
	}
	f.Curl = r.Replace(f.Curl)
	return f
}
