package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/weaklist"
)

// WeakSecret (GH2003) tries a built-in list of common secrets against the
// HMAC signature of every identity's HS256/384/512 token, offline: a match
// is proof, not a guess.
type WeakSecret struct{}

var _ scan.Check = WeakSecret{}

// Meta implements scan.Check.
func (WeakSecret) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2003", Title: "JWT signed with a weak, guessable HMAC secret", Category: "authn",
		Severity: scan.Critical, OWASP: scan.API2Authn, CWE: "CWE-521",
		Description: "The HMAC secret signing the API's tokens is in a list of common secrets: anyone can forge tokens for any user and role.",
		Remediation: "Sign tokens with an asymmetric key (RS256/ES256) held by the identity provider, or a random HMAC secret of at least 32 bytes; rotate it now.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256] } ] }",
	}
}

// WeakSecrets is the built-in wordlist tried offline against HMAC-signed
// tokens: the JWT-specific secrets first, then the 10,000 most common
// passwords (10,000+ distinct entries; TestWeakSecretsList counts them).
// Both lists live in weaklist (one embedded copy, shared with the
// gateway's password policy and config validation).
var WeakSecrets = func() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string(nil), weaklist.JWTSecrets...), weaklist.Passwords()...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}()

// CrackHS returns the secret from WeakSecrets that signs tok, if any.
func CrackHS(tok string) (string, bool) {
	s, _, ok := Crack(tok, WeakSecrets)
	return s, ok
}

// Crack tries each of secrets against the HMAC signature of tok (HS256,
// HS384, HS512) offline and returns the matching secret and how many
// candidates it tried.
func Crack(tok string, secrets []string) (string, int, bool) {
	j, ok := scan.ParseJWT(tok)
	if !ok {
		return "", 0, false
	}
	var h func() hash.Hash
	switch j.Alg() {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return "", 0, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(j.Parts[2])
	if err != nil || len(sig) == 0 {
		return "", 0, false
	}
	in := []byte(j.Parts[0] + "." + j.Parts[1])
	for i, s := range secrets {
		m := hmac.New(h, []byte(s))
		m.Write(in)
		if hmac.Equal(m.Sum(nil), sig) {
			return s, i + 1, true
		}
	}
	return "", len(secrets), false
}

// Sign signs claims as an HS256 JWT with secret.
func Sign(claims map[string]any, secret string) string {
	in := scan.B64(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + scan.B64(claims)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func maskSecret(s string) string {
	if len(s) <= 2 {
		return "**"
	}
	return s[:1] + "****" + s[len(s)-1:]
}

// Run implements scan.Check. The time the offline search took is in the
// finding (and in the log when nothing matched).
func (WeakSecret) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	// An offline check: its coverage is target-wide, from what it judged
	// (it used to count as tested wherever the crawl got an answer, also
	// when no identity held a JWT).
	tried := map[string]bool{}
	jwts, hmacs := 0, 0
	var algs []string
	defer func() {
		switch {
		case hmacs > 0:
			t.MarkCoverage(ctx, "", scan.CoverTested, fmt.Sprintf("%d HMAC-signed token%s tried offline against %d weak secrets", hmacs, pluralN(hmacs), len(WeakSecrets)))
		case jwts > 0:
			t.MarkCoverage(ctx, "", scan.CoverTested, "the identities' tokens are signed with "+strings.Join(algs, ", ")+": no HMAC secret to guess (GH2007 tries the public key as one)")
		}
	}()
	for _, id := range t.Identities {
		tok := id.Token()
		if tok == "" || tried[tok] {
			continue
		}
		tried[tok] = true
		if j, ok := scan.ParseJWT(tok); ok {
			jwts++
			if strings.HasPrefix(j.Alg(), "HS") {
				hmacs++
			} else if !slices.Contains(algs, j.Alg()) {
				algs = append(algs, j.Alg())
			}
		}
		start := time.Now()
		s, n, ok := Crack(tok, WeakSecrets)
		took := time.Since(start)
		if !ok {
			t.Log.Debug("weak secret search", "identity", id.Name, "candidates", n, "duration", took)
			continue
		}
		f := scan.Finding{Detail: fmt.Sprintf("The token of identity %s verifies with the HMAC secret %q (%d characters), candidate %d of the %d in the built-in list of weak secrets, found offline in %s.",
			id.Name, maskSecret(s), len(s), n, len(WeakSecrets), took.Round(time.Microsecond))}
		f = f.At(t.Operation(id.LoginOp))
		report(f)
		return nil
	}
	if jwts == 0 {
		return scan.Skip("no identity holds a JWT (opaque tokens, cookies or API keys): no signature to try secrets on")
	}
	return nil
}
