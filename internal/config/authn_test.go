package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadAuthn loads a config whose authn section is body, with env as the
// environment, and returns it with every problem as "path: msg" (warnings
// prefixed "warning ").
func loadAuthn(t *testing.T, body string, env map[string]string) (*Config, []string) {
	t.Helper()
	dir := t.TempDir()
	spec, _ := filepath.Abs("testdata/openapi.yaml")
	_ = os.WriteFile(filepath.Join(dir, "pub.pem"), []byte("x"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte("[]"), 0o600)
	f := filepath.Join(dir, "gatehouse.yaml")
	src := "upstream: http://127.0.0.1:5000\nspec: " + spec + "\nauthn:\n" + body
	if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	var out []string
	var ve *ValidationError
	if err != nil {
		if !errors.As(err, &ve) {
			t.Fatalf("load: %v", err)
		}
		for _, p := range ve.Problems {
			out = append(out, p.Path+": "+p.Msg)
		}
		return c, out
	}
	verr := c.Validate()
	if errors.As(verr, &ve) {
		for _, p := range ve.Problems {
			if !p.Warning {
				out = append(out, p.Path+": "+p.Msg)
			}
		}
	}
	for _, p := range c.Warnings() {
		out = append(out, "warning "+p.Path+": "+p.Msg)
	}
	return c, out
}

func TestAuthnDefaults(t *testing.T) {
	c, probs := loadAuthn(t, `
  jwt:
    - issuer: https://idp.example.com/
      discovery: true
      audiences: [orders-api]
      algorithms: [RS256]
`, nil)
	if len(probs) != 0 {
		t.Fatalf("problems: %q", probs)
	}
	j := c.Authn.JWT[0]
	if !j.RequireExp || j.Leeway.D() != 30*time.Second || j.TokenSource != "bearer" || j.RolesClaim != "roles" || j.UnknownKIDCooldown.D() != 10*time.Second {
		t.Errorf("issuer defaults = %+v", j)
	}
	a := c.Authn
	if a.Revocation.Store != "memory" || a.Cache.Size != 10000 || a.IdentityHeaders.Subject != "X-Gatehouse-Subject" || a.APIKeys.Header != "X-API-Key" {
		t.Errorf("authn defaults = %+v", a)
	}
	if !strings.HasSuffix(c.Authn.JWT[0].Issuer, "/") {
		t.Error("issuer changed")
	}
}

func TestAuthnProblems(t *testing.T) {
	secret := strings.Repeat("s", 32)
	env := map[string]string{"HS": secret, "SHORT": "weak"}
	for _, tc := range []struct {
		name string
		body string
		want []string // substrings, one per expected problem, in any order
	}{
		{"alg none and unknown", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [none, RS1] }`,
			[]string{"authn.jwt[0].algorithms[0]: alg none is never accepted", "authn.jwt[0].algorithms[1]: unsupported algorithm \"RS1\""}},
		{"algorithms required", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a] }`,
			[]string{"authn.jwt[0].algorithms: algorithms is required"}},
		{"no key source", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [ES256] }`,
			[]string{"authn.jwt[0]: asymmetric algorithms need keys"}},
		{"two key sources", `
  jwt:
    - { issuer: "https://i/", discovery: true, keys: [pub.pem], audiences: [a], algorithms: [ES256] }`,
			[]string{"authn.jwt[0]: set only one of jwks_url, discovery and keys"}},
		{"hs secret literal", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "literally-in-the-file-0123456789abcdef" }`,
			[]string{"authn.jwt[0].hs_secret: hs_secret must be a ${ENV} reference", "warning authn.jwt[0].algorithms: HS* shares one secret"}},
		{"hs secret from env", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${HS}" }`,
			[]string{"warning authn.jwt[0].algorithms: HS* shares one secret"}},
		{"hs secret weak", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${SHORT}" }`,
			[]string{"authn.jwt[0].hs_secret: hs_secret is 4 bytes", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"hs without secret", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256] }`,
			[]string{"authn.jwt[0].hs_secret: HS* algorithms need hs_secret", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"exp not required, no audience, query token", `
  jwt:
    - { issuer: i, keys: [pub.pem], algorithms: [EdDSA], require_exp: false, token_source: "query:t" }`,
			[]string{"warning authn.jwt[0].require_exp: require_exp is false", "warning authn.jwt[0].audiences: no audiences", "warning authn.jwt[0].token_source: tokens in the query string"}},
		{"bad token source", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA], token_source: "body:x" }`,
			[]string{"authn.jwt[0].token_source: token_source must be bearer"}},
		{"plain http jwks", `
  jwt:
    - { issuer: i, jwks_url: "http://idp.example.com/jwks", audiences: [a], algorithms: [RS256] }`,
			[]string{"warning authn.jwt[0].jwks_url: \"http://idp.example.com/jwks\" is plain http"}},
		{"missing key file and duplicate issuer", `
  jwt:
    - { issuer: i, keys: [nope.pem], audiences: [a], algorithms: [RS256] }
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [RS256] }`,
			[]string{"authn.jwt[0].keys[0]: key file", "authn.jwt[1].issuer: issuer \"i\" with token_source \"bearer\" is already configured"}},
		{"api key in query", `
  api_keys: { file: keys.yaml, query: api_key }`,
			[]string{"warning authn.api_keys.query: API keys in the query string"}},
		{"bad revocation store and headers", `
  revocation: { store: "memcached://x" }
  identity_headers: { subject: "Authorization", roles: "X Roles" }`,
			[]string{"authn.revocation.store: revocation store must be memory", "authn.identity_headers.subject: \"Authorization\" is reserved", "authn.identity_headers.roles: \"X Roles\" is not a valid header name"}},
		{"logout without store", `
  revocation: { store: none }
  logout_operation: logout
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [RS256] }`,
			[]string{"authn.logout_operation: logout_operation needs a revocation store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := loadAuthn(t, tc.body, env)
			if len(probs) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d: %q", len(probs), probs, len(tc.want), tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range probs {
					if strings.Contains(p, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem containing %q in %q", w, probs)
				}
			}
		})
	}
}

func TestHMACSecretRedacted(t *testing.T) {
	c, probs := loadAuthn(t, `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${HS}" }`, map[string]string{"HS": strings.Repeat("k", 40)})
	if len(probs) != 1 {
		t.Fatalf("problems %q", probs)
	}
	s := c.Authn.JWT[0].HSSecret
	if s.String() != "<secret>" || string(s.Value()) != strings.Repeat("k", 40) {
		t.Fatalf("secret = %q / %q", s.String(), s.Value())
	}
}
