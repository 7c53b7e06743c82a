package dynamic

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// NoAuth (GH2001) sends each operation that declares a security requirement
// without credentials, then with a garbage bearer token; a real 2xx answer
// is a finding: not an error dressed as 200 (granted), and for a read, the
// same data the identity's own request gets (sameData). DELETE is never
// sent.
type NoAuth struct{}

var _ scan.Check = NoAuth{}

// Meta implements scan.Check.
func (NoAuth) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2001", Title: "Operation answers without valid credentials", Category: "authn",
		Severity: scan.High, OWASP: scan.API2Authn, CWE: "CWE-306",
		Description: "An operation whose contract requires authentication returned 2xx to a request without credentials or with a garbage token.",
		Remediation: "Authenticate every operation that declares security; reject missing and malformed credentials with 401.",
		Fix:         "authz: { default: authenticated }\nauthn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256] } ] }",
	}
}

const garbageToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJnaHNjYW4ifQ.Z2hzY2FuLWdhcmJhZ2U"

// Run implements scan.Check.
func (NoAuth) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return t.RequiresAuth(op) && !scan.IsLogin(op) && !scan.IsLogout(op) && op.Method != http.MethodDelete
	}) {
		var who *scan.Identity
		if len(t.Identities) > 0 {
			who = t.Identities[0]
		}
		p := t.Prepare(op, who) // real object IDs, so a 2xx means data
		// For a read, the identity's own answer is the reference: an
		// anonymous 200 that is a refusal in effect (a failure envelope, a
		// message, an empty list where the identity gets data) is not
		// access. Writes are not sent twice.
		var ref *scan.Exchange
		if who != nil && (op.Method == http.MethodGet || op.Method == http.MethodHead) {
			own, err := t.Send(ctx, p, who) // the same request, so the same object
			if scan.Stop(ctx, err) {
				return err
			}
			if err == nil {
				ref = own
			}
		}
		ex, err := t.Send(ctx, p, nil)
		if scan.Stop(ctx, err) {
			return err
		}
		if errors.Is(err, scan.ErrUnsafe) || err != nil {
			continue
		}
		if sameData(ex, ref) {
			report(scan.Finding{Key: "none", Detail: op.Method + " " + op.Template + " declares security but answered " +
				http.StatusText(ex.Status) + " to a request without credentials."}.At(op).With(ex, "request without credentials"))
			continue
		}
		ex, err = t.Client.Do(ctx, t.WithToken(p, garbageToken))
		if scan.Stop(ctx, err) {
			return err
		}
		if err == nil && sameData(ex, ref) {
			report(scan.Finding{Key: "garbage", Detail: op.Method + " " + op.Template + " accepted a garbage bearer token (invalid signature, unknown subject)."}.
				At(op).With(ex, "request with a garbage bearer token"))
		}
	}
	return nil
}
