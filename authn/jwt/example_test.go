package jwt_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// Example verifies a token from an issuer whose public key is known locally
// (as with keys: [file] in the gateway config).
func Example() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := jwk.Import(priv)
	_ = signer.Set(jwk.KeyIDKey, "k1")
	pub, _ := signer.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	keys, _, err := jwt.NewKeySet(set)
	if err != nil {
		panic(err)
	}
	is, err := jwt.NewIssuer(jwt.IssuerOptions{
		Issuer:     "https://idp.example.com/",
		Audiences:  []string{"orders-api"},
		Algorithms: []string{"EdDSA"},
		Keys:       jwt.Static{Set: keys},
		Leeway:     30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	a, _ := jwt.New(jwt.Options{Issuers: []*jwt.Issuer{is}, CacheSize: 1000})

	tok, _ := jwt.Mint(map[string]any{
		"iss": "https://idp.example.com/", "aud": "orders-api", "sub": "alice",
		"exp": time.Now().Add(time.Minute).Unix(), "roles": []string{"admin"},
	}, "EdDSA", signer)
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	p, err := a.Authenticate(r)
	fmt.Println(p.Subject, p.Roles, err)
	// Output: alice [admin] <nil>
}
