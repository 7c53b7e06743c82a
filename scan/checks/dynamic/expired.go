package dynamic

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// ExpiredToken (GH2006) runs when GH2003 can crack an identity's HMAC
// secret: it re-signs the identity's claims with exp an hour in the past
// and replays them; acceptance means expiry is not checked.
type ExpiredToken struct{}

var _ scan.Check = ExpiredToken{}

// Meta implements scan.Check.
func (ExpiredToken) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2006", Title: "Expired JWT accepted", Category: "authn",
		Severity: scan.High, OWASP: scan.API2Authn, CWE: "CWE-613",
		Description: "A token whose exp lies an hour in the past was accepted: expiry is not enforced.",
		Remediation: "Reject tokens whose exp is in the past (allowing at most a small clock-skew leeway).",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256], leeway: 30s } ] }",
	}
}

// Run implements scan.Check.
func (ExpiredToken) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, id := range t.Identities {
		secret, ok := CrackHS(id.Token())
		if !ok {
			continue
		}
		j, _ := scan.ParseJWT(id.Token())
		op, p, _, err := probe(ctx, t, id)
		if err != nil || op == nil {
			return err
		}
		claims := map[string]any{}
		for k, v := range j.Claims {
			claims[k] = v
		}
		now := time.Now()
		claims["iat"] = now.Add(-2 * time.Hour).Unix()
		claims["exp"] = now.Add(-time.Hour).Unix()
		ex, err := t.Client.Do(ctx, t.WithToken(p, Sign(claims, secret)))
		if scan.Stop(ctx, err) {
			return err
		}
		if err == nil && granted(ex) {
			report(scan.Finding{Detail: "A token of identity " + id.Name + " re-signed with exp one hour in the past was accepted by " + op.Method + " " + op.Template + "."}.
				At(op).With(ex, "token expired an hour ago"))
		}
		return nil
	}
	if len(t.Identities) > 0 {
		return scan.Skip("no identity's token is an HS256 JWT whose secret GH2003 cracks: an expired token cannot be forged (GH2004 judges the lifetime of the tokens given)")
	}
	return nil
}
