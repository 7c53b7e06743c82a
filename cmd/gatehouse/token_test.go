package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikey"
	"github.com/gatehouse/gatehouse/authn/jwt"
)

func runAuthnCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestTokenTrustedByStaticIssuer is the demo path: keygen, mint, and a
// gateway issuer configured with the same key file accepts the token.
func TestTokenTrustedByStaticIssuer(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			key := filepath.Join(t.TempDir(), "signing.pem")
			if out, err := runAuthnCmd(t, "token", "keygen", "--alg", alg, "--out", key); err != nil || !strings.Contains(out, "algorithms: ["+alg+"]") {
				t.Fatalf("keygen = %q, %v", out, err)
			}
			if _, err := runAuthnCmd(t, "token", "keygen", "--out", key); err == nil {
				t.Fatal("keygen overwrote an existing key")
			}
			out, err := runAuthnCmd(t, "token", "--key", key, "--sub", "alice", "--roles", "admin,user", "--scopes", "a,b", "--aud", "my-api", "--ttl", "5m", "--claim", "tenant=7")
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.TrimSpace(out)
			set, _, err := jwt.LoadKeyFiles(key)
			if err != nil {
				t.Fatal(err)
			}
			is, _ := jwt.NewIssuer(jwt.IssuerOptions{Issuer: "gatehouse", Audiences: []string{"my-api"}, Algorithms: []string{alg}, Keys: jwt.Static{Set: set}})
			a, _ := jwt.New(jwt.Options{Issuers: []*jwt.Issuer{is}})
			p, err := a.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("gateway rejected the minted token: %v (%s)", err, authn.Reason(err))
			}
			if p.Subject != "alice" || !p.HasRole("admin") || !p.HasScope("b") || p.Claims["tenant"] != float64(7) || p.TokenID == "" {
				t.Errorf("principal = %+v", p)
			}
			if d := time.Until(p.ExpiresAt); d < 4*time.Minute || d > 5*time.Minute {
				t.Errorf("exp in %v, want ~5m", d)
			}
			// The printed JWKS verifies it too, and holds no private material.
			js, err := runAuthnCmd(t, "token", "jwks", "--key", key)
			if err != nil || strings.Contains(js, `"d"`) {
				t.Fatalf("jwks = %q, %v", js, err)
			}
			pub, err := jwk.Parse([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			ks, _, err := jwt.NewKeySet(pub)
			if err != nil {
				t.Fatal(err)
			}
			is2, _ := jwt.NewIssuer(jwt.IssuerOptions{Issuer: "gatehouse", Algorithms: []string{alg}, Keys: jwt.Static{Set: ks}})
			a2, _ := jwt.New(jwt.Options{Issuers: []*jwt.Issuer{is2}})
			if _, err := a2.Verify(t.Context(), tok); err != nil {
				t.Fatalf("JWKS from `token jwks` does not verify: %v", err)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k.pem")
	if _, err := runAuthnCmd(t, "token", "keygen", "--out", key); err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "pub.json")
	js, _ := runAuthnCmd(t, "token", "jwks", "--key", key)
	writeAuthnFile(t, pubFile, js)
	t.Setenv("WEAK", "short")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"token"}, "--key FILE"},
		{"public key", []string{"token", "--key", pubFile}, "public key"},
		{"alg none", []string{"token", "--key", key, "--alg", "none"}, "none"},
		{"weak hs secret", []string{"token", "--secret-env", "WEAK", "--alg", "HS256"}, "at least 32 bytes"},
		{"bad claim", []string{"token", "--key", key, "--claim", "novalue"}, "NAME=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runAuthnCmd(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("hs256 from env", func(t *testing.T) {
		t.Setenv("HS", strings.Repeat("s", 32))
		out, err := runAuthnCmd(t, "token", "--secret-env", "HS", "--alg", "HS256", "--iss", "legacy")
		if err != nil || strings.Count(strings.TrimSpace(out), ".") != 2 {
			t.Fatalf("token = %q, %v", out, err)
		}
	})
}

// TestTokenHMACSecretPerAlg: the secret must be at least the hash length of
// the HS algorithm (HS256 32, HS384 48, HS512 64 bytes), as the gateway
// demands, whatever the case of --alg and whether the secret comes from the
// environment or an oct JWK file.
func TestTokenHMACSecretPerAlg(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		alg string
		n   int
		ok  bool
	}{
		{"HS256", 31, false}, {"HS256", 32, true},
		{"HS384", 32, false}, {"HS384", 47, false}, {"HS384", 48, true},
		{"HS512", 32, false}, {"hs512", 63, false}, {"HS512", 64, true},
	} {
		secret := strings.Repeat("k", tc.n)
		t.Setenv("HS", secret)
		jwkFile := filepath.Join(dir, fmt.Sprintf("oct-%d.json", tc.n))
		if err := os.WriteFile(jwkFile, []byte(`{"kty":"oct","k":"`+base64.RawURLEncoding.EncodeToString([]byte(secret))+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, src := range [][]string{{"--secret-env", "HS"}, {"--key", jwkFile}} {
			args := append([]string{"token", "--alg", tc.alg}, src...)
			out, err := runAuthnCmd(t, args...)
			if tc.ok {
				if err != nil {
					t.Fatalf("%s %d bytes via %s: %v", tc.alg, tc.n, src[0], err)
				}
				hdr, _, _ := strings.Cut(strings.TrimSpace(out), ".")
				h, _ := base64.RawURLEncoding.DecodeString(hdr)
				if !strings.Contains(string(h), `"alg":"`+strings.ToUpper(tc.alg)+`"`) {
					t.Fatalf("%s token header %s", tc.alg, h)
				}
				continue
			}
			want := fmt.Sprintf("at least %d bytes", hmacSecretLen(tc.alg))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s with %d bytes via %s: err = %v, want %q", tc.alg, tc.n, src[0], err, want)
			}
		}
	}
}

func TestAPIKeyNew(t *testing.T) {
	out, err := runAuthnCmd(t, "apikey", "new", "--subject", `ci "bot"`, "--roles", "deployer", "--expires", "2099-12-31")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := strings.TrimPrefix(lines[0], "key: ")
	if !strings.HasPrefix(key, apikey.Prefix) || strings.Contains(out, "sha256:"+key) {
		t.Fatalf("output %q", out)
	}
	store, err := apikey.Parse([]byte(lines[len(lines)-1]))
	if err != nil {
		t.Fatalf("printed line does not parse as a keys file: %v", err)
	}
	a, _ := apikey.New(apikey.Options{Store: store})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	p, err := a.Authenticate(r)
	if err != nil || p.Subject != `ci "bot"` || !p.HasRole("deployer") || p.ExpiresAt.Year() != 2099 {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, err := runAuthnCmd(t, "apikey", "new"); err == nil {
		t.Fatal("apikey new without --subject succeeded")
	}
}

func writeAuthnFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
