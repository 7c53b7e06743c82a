package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strconv"

	"github.com/gatehouse/gatehouse/scan"
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
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.Critical, OWASP: scan.API2Authn, CWE: "CWE-521",
		Description: "The HMAC secret signing the API's tokens is in a list of common secrets: anyone can forge tokens for any user and role.",
		Remediation: "Sign tokens with an asymmetric key (RS256/ES256) held by the identity provider, or a random HMAC secret of at least 32 bytes; rotate it now.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", algorithms: [RS256, ES256] } ] }",
	}
}

// WeakSecrets is the built-in wordlist of common JWT HMAC secrets.
var WeakSecrets = []string{
	"secret", "password", "changeme", "change_me", "change-me", "123456", "12345678", "123456789",
	"key", "jwt", "jwt_secret", "jwt-secret", "jwtsecret", "secretkey", "secret_key", "secret-key",
	"mysecret", "my_secret", "my-secret", "supersecret", "super-secret", "super_secret", "topsecret",
	"s3cr3t", "s3cret", "secret123", "admin", "test", "testing", "dev", "development", "default",
	"token", "your-256-bit-secret", "your_jwt_secret", "your-secret-key", "shhhhh", "keyboard cat",
	"qwerty", "letmein", "password1", "pass", "hello", "welcome", "abc123", "apisecret", "api_secret",
	"private", "privatekey", "signingkey", "app_secret", "appsecret", "example", "demo", "insecure",
	"notasecret", "auth", "Secret", "SECRET", "gatehouse",
}

// CrackHS returns the secret from WeakSecrets that signs tok, if any.
func CrackHS(tok string) (string, bool) {
	j, ok := scan.ParseJWT(tok)
	if !ok {
		return "", false
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
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(j.Parts[2])
	if err != nil || len(sig) == 0 {
		return "", false
	}
	in := []byte(j.Parts[0] + "." + j.Parts[1])
	for _, s := range WeakSecrets {
		m := hmac.New(h, []byte(s))
		m.Write(in)
		if hmac.Equal(m.Sum(nil), sig) {
			return s, true
		}
	}
	return "", false
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

// Run implements scan.Check.
func (WeakSecret) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, id := range t.Identities {
		s, ok := CrackHS(id.Token())
		if !ok {
			continue
		}
		f := scan.Finding{Detail: "The token of identity " + id.Name + " verifies with the HMAC secret \"" + maskSecret(s) +
			"\" (" + strconv.Itoa(len(s)) + " characters) from the built-in list of common secrets."}
		f = f.At(t.Operation(id.LoginOp))
		report(f)
		return nil
	}
	return nil
}
