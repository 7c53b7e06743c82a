package dynamic

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// MaxTokenLifetime is the longest token lifetime GH2004 accepts.
const MaxTokenLifetime = 24 * time.Hour

// TokenLifetime (GH2004) reads the identities' JWTs: no exp claim, or a
// lifetime over MaxTokenLifetime, is a finding.
type TokenLifetime struct{}

var _ scan.Check = TokenLifetime{}

// Meta implements scan.Check.
func (TokenLifetime) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2004", Title: "JWT without expiry or with an excessive lifetime", Category: "authn",
		Severity: scan.Medium, OWASP: scan.API2Authn, CWE: "CWE-613",
		Description: "Tokens issued by the API never expire (no exp claim) or live longer than a day: a stolen token stays useful indefinitely.",
		Remediation: "Issue short-lived access tokens (minutes) with an exp claim, and refresh tokens that can be revoked.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256], max_token_lifetime: 1h } ] }   # exp is always required (require_exp defaults to true)",
	}
}

// Run implements scan.Check.
func (TokenLifetime) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	judged := 0
	defer func() {
		if judged > 0 {
			t.MarkCoverage(ctx, "", scan.CoverTested, fmt.Sprintf("judged the exp and iat of %d token%s", judged, pluralN(judged)))
		}
	}()
	for _, id := range t.Identities {
		j, ok := scan.ParseJWT(id.Token())
		if !ok {
			continue
		}
		judged++
		exp, hasExp := num(j.Claims["exp"])
		op := t.Operation(id.LoginOp)
		if !hasExp {
			report(scan.Finding{Key: "no-exp", Param: "exp", Detail: "The token of identity " + id.Name + " has no exp claim: it never expires."}.At(op))
			return nil
		}
		from := float64(time.Now().Unix())
		if iat, ok := num(j.Claims["iat"]); ok {
			from = iat
		}
		if life := time.Duration(exp-from) * time.Second; life > MaxTokenLifetime {
			report(scan.Finding{Key: "long", Param: "exp", Severity: scan.Low,
				Detail: fmt.Sprintf("The token of identity %s lives %s (over %s).", id.Name, life, MaxTokenLifetime)}.At(op))
			return nil
		}
	}
	if judged == 0 {
		return scan.Skip("no identity holds a JWT (opaque tokens, cookies or API keys): their lifetime is not visible (GH2005 tests that logout ends them)")
	}
	return nil
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}
