package dynamic

import (
	"context"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// AfterLogout (GH2005) logs a login identity in afresh, checks the new token
// works, calls the spec's logout operation with it and replays it: still
// accepted is a finding. It uses a fresh token so the identity's own token
// keeps working, and needs an identity with a login operation.
type AfterLogout struct{}

var _ scan.Check = AfterLogout{}

// Meta implements scan.Check.
func (AfterLogout) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2005", Title: "Token still accepted after logout", Category: "authn",
		Severity: scan.High, OWASP: scan.API2Authn, CWE: "CWE-613",
		Description: "After the logout operation succeeded, the same token was still accepted: logging out does not end the session.",
		Remediation: "Revoke the token's ID (jti) at logout and check revocation on every request, or use short-lived tokens with revocable refresh tokens.",
		Fix:         "authn: { revocation: { store: memory } }   # or redis://…; logout operations revoke the presented token's jti",
		Phase:       scan.PhaseState,
	}
}

// Run implements scan.Check.
func (AfterLogout) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	outs := ops(t, func(op *openapi.Operation) bool { return scan.IsLogout(op) && op.Method != http.MethodGet })
	if len(outs) == 0 {
		outs = ops(t, scan.IsLogout)
	}
	if len(outs) == 0 {
		return nil
	}
	logout := outs[0]
	if !slices.ContainsFunc(t.Identities, (*scan.Identity).CanLogin) {
		// Logging out a given token would revoke it for the rest of the scan.
		return scan.Skip("no identity logs in through the API's login (the identities are given tokens or headers): the scan logs out only tokens it got itself; give one as NAME=login:<operationId>:user=…,password=… to test it")
	}
	for _, id := range t.Identities {
		if !id.CanLogin() {
			continue
		}
		op, p, _, err := probe(ctx, t, id)
		if err != nil {
			return err
		}
		if op == nil {
			return nil
		}
		tok, err := t.FreshToken(ctx, id)
		if err != nil {
			if scan.Stop(ctx, err) {
				return err
			}
			continue
		}
		before, err := t.Client.Do(ctx, t.WithToken(p, tok))
		if err != nil {
			return err
		}
		if !granted(before) {
			continue
		}
		out, err := t.Client.Do(ctx, t.WithToken(t.Prepare(logout, id), tok))
		if err != nil {
			return err
		}
		if !out.OK() {
			continue
		}
		after, err := t.Client.Do(ctx, t.WithToken(p, tok))
		if err != nil {
			return err
		}
		if granted(after) {
			report(scan.Finding{Detail: "A fresh token of identity " + id.Name + " was accepted by " + op.Method + " " + op.Template +
				" after " + logout.Method + " " + logout.Template + " answered " + http.StatusText(out.Status) + "."}.
				At(logout).With(out, "logout succeeded").With(after, "the same token, replayed after logout"))
		}
		return nil
	}
	return nil
}
