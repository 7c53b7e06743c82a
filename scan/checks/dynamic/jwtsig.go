package dynamic

import (
	"context"

	"github.com/gatehouse/gatehouse/scan"
)

// JWTSignature (GH2002) replays an identity's JWT with alg "none", with the
// signature stripped, and with a tampered payload against an operation that
// rejects anonymous callers; acceptance of any variant is a finding.
type JWTSignature struct{}

var _ scan.Check = JWTSignature{}

// Meta implements scan.Check.
func (JWTSignature) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2002", Title: "JWT signature not verified", Category: "authn",
		Severity: scan.Critical, OWASP: scan.API2Authn, CWE: "CWE-347",
		Description: "A forged JWT (alg none, stripped signature or tampered payload) was accepted: anyone can mint tokens for any user.",
		Remediation: "Verify every token's signature with a fixed allow-list of algorithms; never accept alg none.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256] } ] }",
	}
}

// Run implements scan.Check.
func (JWTSignature) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, id := range t.Identities {
		j, ok := scan.ParseJWT(id.Token())
		if !ok {
			continue
		}
		op, p, _, err := probe(ctx, t, id)
		if err != nil {
			return err
		}
		if op == nil {
			continue
		}
		tampered := map[string]any{}
		for k, v := range j.Claims {
			tampered[k] = v
		}
		tampered["gh_scan"] = "tampered"
		noneHdr := map[string]any{"alg": "none", "typ": "JWT"}
		variants := []struct{ key, tok, what string }{
			{"alg-none", scan.B64(noneHdr) + "." + j.Parts[1] + ".", "alg none, no signature"},
			{"stripped", j.Parts[0] + "." + j.Parts[1] + ".", "signature removed"},
			{"tampered", j.Parts[0] + "." + scan.B64(tampered) + "." + j.Parts[2], "payload changed, original signature"},
		}
		for _, v := range variants {
			ex, err := t.Client.Do(ctx, t.WithToken(p, v.tok))
			if scan.Stop(ctx, err) {
				return err
			}
			if err == nil && granted(ex) {
				report(scan.Finding{Key: v.key, Param: v.key,
					Detail: "A token of identity " + id.Name + " with " + v.what + " was accepted by " + op.Method + " " + op.Template + ", which rejects anonymous callers."}.
					At(op).With(ex, "forged token: "+v.what))
			}
		}
		return nil // one identity proves it
	}
	return nil
}
