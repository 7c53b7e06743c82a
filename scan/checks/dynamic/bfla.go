package dynamic

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// BFLA (GH2011) calls operations that look administrative (tags, path or
// operationId say admin/internal/manage, or x-gatehouse-admin) as each
// non-privileged identity; a real 2xx while anonymous callers are refused is
// a finding. DELETE is never sent.
type BFLA struct{}

var _ scan.Check = BFLA{}

// Meta implements scan.Check.
func (BFLA) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2011", Title: "Broken function level authorization: administrative operation open to a regular user", Category: "bfla",
		Severity: scan.High, OWASP: scan.API5BFLA, CWE: "CWE-285",
		Description: "A non-privileged identity succeeded on an operation that is administrative by its tags, path or name.",
		Remediation: "Enforce role checks on administrative operations on the server, deny by default.",
	}
}

// Run implements scan.Check.
func (BFLA) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return scan.LooksAdmin(op) && op.Method != http.MethodDelete && !scan.IsLogin(op) && !scan.IsLogout(op)
	}) {
		if !t.Client.Allowed(op.Method) {
			continue
		}
		for _, u := range t.Users() {
			p := t.Prepare(op, u)
			anon, err := t.Send(ctx, p, nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			if granted(anon) {
				break // open to everyone: GH2001's finding
			}
			ex, err := t.Send(ctx, p, u)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			if granted(ex) {
				report(scan.Finding{
					Detail: fmt.Sprintf("Non-privileged identity %s called administrative operation %s %s and got %d (anonymous: %d).", u.Name, op.Method, op.Template, ex.Status, anon.Status),
					Fix:    fmt.Sprintf("authz: { rules: { %s: { roles: [admin] } } }", yamlQuote(op.ID)),
				}.At(op).With(ex, "regular user "+u.Name).With(anon, "anonymous request is refused"))
				break
			}
		}
	}
	return nil
}
