package jwt

import (
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Mint signs claims with key (a private jwk.Key, or a symmetric one for
// HS*) using alg, putting the key's kid and typ "JWT" in the protected
// header. It is meant for tests and `gatehouse token`, not for an IdP.
func Mint(claims map[string]any, alg string, key jwk.Key) (string, error) {
	salg, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok || salg == jwa.NoSignature() {
		return "", fmt.Errorf("jwt: unsupported algorithm %q", alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt: encode claims: %w", err)
	}
	hdr := jws.NewHeaders()
	if kid, ok := key.KeyID(); ok && kid != "" {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			return "", fmt.Errorf("jwt: set kid: %w", err)
		}
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("jwt: set typ: %w", err)
	}
	tok, err := jws.Sign(payload, jws.WithKey(salg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return string(tok), nil
}
