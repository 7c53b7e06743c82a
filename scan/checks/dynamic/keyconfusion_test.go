package dynamic_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

const rsaSpec = `
openapi: 3.0.3
info: { title: rsa, version: "1" }
security: [ { bearer: [] } ]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
paths:
  /login:
    post:
      operationId: login
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: { type: string }
                password: { type: string }
      responses:
        "200": { description: ok }
  /profile:
    get:
      operationId: profile
      responses:
        "200": { description: ok }
`

// rsaAPI issues RS256 tokens and publishes its key as a JWKS. The
// vulnerable verifier takes the algorithm from the token header and, for
// HS256, uses the PEM of its public key as the HMAC secret (the classic
// confused library); the correct one accepts RS256 only.
func rsaAPI(t *testing.T, confused bool) http.Handler {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	sign := func(claims map[string]any) string {
		in := scan.B64(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + scan.B64(claims)
		h := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		return in + "." + b64.EncodeToString(sig)
	}
	verify := func(tok string) bool {
		j, ok := scan.ParseJWT(tok)
		if !ok {
			return false
		}
		in := j.Parts[0] + "." + j.Parts[1]
		sig, err := b64.DecodeString(j.Parts[2])
		if err != nil {
			return false
		}
		switch j.Alg() {
		case "RS256":
			h := sha256.Sum256([]byte(in))
			return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig) == nil
		case "HS256":
			if !confused {
				return false
			}
			m := hmac.New(sha256.New, pubPEM)
			m.Write([]byte(in))
			return hmac.Equal(m.Sum(nil), sig)
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256",
				"n": b64.EncodeToString(key.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
		case "/login":
			_ = json.NewEncoder(w).Encode(map[string]any{"token": sign(map[string]any{"sub": "7", "exp": 4102444800, "iat": 4102444800 - 900})})
		case "/profile":
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !verify(tok) {
				w.WriteHeader(401)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"id": 7})
		default:
			w.WriteHeader(404)
		}
	})
}

func TestKeyConfusion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		confused bool
	}{{"confused verifier", true}, {"algorithm pinned", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(rsaAPI(t, tc.confused))
			t.Cleanup(srv.Close)
			spec, err := openapi.LoadBytes([]byte(rsaSpec), "rsa.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ids := []*scan.Identity{scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "pw"})}
			tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 200}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.KeyConfusion{}, dynamic.JWTSignature{}}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.CheckID)
				t.Log(f.Detail)
			}
			want := 0
			if tc.confused {
				want = 1
			}
			if len(got) != want || want == 1 && got[0] != "GH2007" {
				t.Errorf("findings %v, want %d GH2007", got, want)
			}
		})
	}
}
