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
	if !j.RequireIssuer || !j.RequireAudience || j.SubjectClaim != "sub" || j.AllowWeakSecret || j.JWKSMaxStale.D() != 24*time.Hour || j.TokenLifetime() != 0 {
		t.Errorf("issuer defaults (issue 12/13 keys) = %+v", j)
	}
	a := c.Authn
	if a.Revocation.OnStoreError != "deny" || a.Introspection.Endpoint != "" || !a.Introspection.RequireAudience || a.Introspection.CacheTTL.D() != 5*time.Minute {
		t.Errorf("revocation/introspection defaults = %+v %+v", a.Revocation, a.Introspection)
	}
	if a.Revocation.Store != "memory" || a.Cache.Size != 10000 || a.IdentityHeaders.Subject != "X-Gatehouse-Subject" || a.APIKeys.Header != "X-API-Key" {
		t.Errorf("authn defaults = %+v", a)
	}
	if !strings.HasSuffix(c.Authn.JWT[0].Issuer, "/") {
		t.Error("issuer changed")
	}
}

func TestAuthnProblems(t *testing.T) {
	secret := strings.Repeat("s", 32)
	env := map[string]string{"HS": secret, "SHORT": "weak", "EMPTY": ""}
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
    - { issuer: i, keys: [pub.pem], algorithms: [EdDSA], require_exp: false, require_audience: false, token_source: "query:t" }`,
			[]string{"warning authn.jwt[0].require_exp: require_exp is false", "warning authn.jwt[0].audiences: no audiences", "warning authn.jwt[0].token_source: tokens in the query string"}},
		{"no audiences without the opt-out", `
  jwt:
    - { issuer: i, keys: [pub.pem], algorithms: [EdDSA] }`,
			[]string{"authn.jwt[0].audiences: audiences is required; require_audience: false"}},
		{"tokens without aud accepted", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], require_audience: false, algorithms: [EdDSA] }`,
			[]string{"warning authn.jwt[0].require_audience: require_audience is false"}},
		{"tokens without iss accepted", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], require_issuer: false, algorithms: [EdDSA] }`,
			[]string{"warning authn.jwt[0].require_issuer: require_issuer is false"}},
		{"two issuers without iss on one source", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], require_issuer: false, algorithms: [EdDSA] }
    - { issuer: j, keys: [pub.pem], audiences: [a], require_issuer: false, algorithms: [EdDSA] }
    - { issuer: k, keys: [pub.pem], audiences: [a], require_issuer: false, algorithms: [EdDSA], token_source: "cookie:s" }`,
			[]string{"authn.jwt[1].require_issuer: only one issuer per token_source", "warning authn.jwt[0].require_issuer", "warning authn.jwt[1].require_issuer", "warning authn.jwt[2].require_issuer"}},
		{"weak secret acknowledged", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${SHORT}", allow_weak_secret: true }`,
			[]string{"warning authn.jwt[0].hs_secret: hs_secret is 4 bytes, under the 32-byte hash length (allow_weak_secret): anyone who guesses the secret can mint tokens", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"empty secret refused even with allow_weak_secret", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${EMPTY}", allow_weak_secret: true }`,
			[]string{"authn.jwt[0].hs_secret: HS* algorithms need hs_secret", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"HS512 needs 64 bytes", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS512], hs_secret: "${HS}" }`,
			[]string{"authn.jwt[0].hs_secret: hs_secret is 32 bytes; HS512 needs at least 64", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"allow_weak_secret with a strong secret", `
  jwt:
    - { issuer: i, audiences: [a], algorithms: [HS256], hs_secret: "${HS}", allow_weak_secret: true }`,
			[]string{"warning authn.jwt[0].allow_weak_secret: allow_weak_secret has no effect", "warning authn.jwt[0].algorithms: HS* shares"}},
		{"both lifetime names", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA], max_lifetime: 1h, max_token_lifetime: 2h }`,
			[]string{"authn.jwt[0].max_lifetime: max_lifetime is the older name of max_token_lifetime: set only one"}},
		{"negative lifetime", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA], max_token_lifetime: -1h }`,
			[]string{"authn.jwt[0].max_token_lifetime: max_token_lifetime must not be negative"}},
		{"jwks_max_stale not longer than max_refresh", `
  jwt:
    - { issuer: i, jwks_url: "https://idp.example.com/jwks", audiences: [a], algorithms: [RS256], max_refresh: 2h, jwks_max_stale: 1h }`,
			[]string{"authn.jwt[0].jwks_max_stale: jwks_max_stale (1h0m0s) must be longer than max_refresh (2h0m0s)"}},
		{"jwks url with credentials", `
  jwt:
    - { issuer: i, jwks_url: "https://u:p@idp.example.com/jwks", audiences: [a], algorithms: [RS256] }`,
			[]string{"authn.jwt[0].jwks_url: \"https://u:p@idp.example.com/jwks\" must not carry credentials"}},
		{"revocation on_store_error allow", `
  revocation: { store: "redis://127.0.0.1:6379/0", on_store_error: allow }
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA] }`,
			[]string{"warning authn.revocation.on_store_error: on_store_error allow: while Redis is down, revoked (logged-out) tokens are accepted"}},
		{"revocation on_store_error unknown", `
  revocation: { store: "redis://127.0.0.1:6379/0", on_store_error: local }
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA] }`,
			[]string{"authn.revocation.on_store_error: on_store_error must be deny or allow"}},
		{"introspection ok", `
  introspection: { endpoint: "https://idp.example.com/introspect", client_id: gh, client_secret: "${HS}", audiences: [a] }`,
			nil},
		{"introspection problems", `
  introspection: { endpoint: "http://idp.example.com/introspect", client_secret: "literal-secret", cache_ttl: 0s }`,
			[]string{"authn.introspection.endpoint: \"http://idp.example.com/introspect\" is plain http", "authn.introspection.client_id: client_id is required",
				"authn.introspection.client_secret: client_secret must be a ${ENV} reference", "authn.introspection.audiences: audiences is required",
				"authn.introspection.cache_ttl: cache_ttl must be positive"}},
		{"empty subject claim", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA], subject_claim: "" }`,
			[]string{"authn.jwt[0].subject_claim: subject_claim must name a claim"}},
		{"subject claim with a space", `
  jwt:
    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA], subject_claim: "user id" }`,
			[]string{"authn.jwt[0].subject_claim: subject_claim must name a claim"}},
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
			[]string{"authn.revocation.store: revocation store must be memory", "authn.identity_headers.subject: \"Authorization\" is reserved", "authn.identity_headers.roles: \"X Roles\" is not a valid header name",
				"warning authz.default: default authenticated but no authentication is configured"}},
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

// TestAuthnNeededWarning: a config whose authorization needs an
// authenticated caller but that configures no authenticator answers 401 to
// every such request; validate says so (a warning: it may be a stub).
func TestAuthnNeededWarning(t *testing.T) {
	for _, tc := range []struct {
		name, authn, authz string
		want               []string
	}{
		{"default authenticated, no authn", "", "", []string{"authz.default: default authenticated but no authentication is configured"}},
		{"default deny, a role rule", "", "  default: deny\n  rules:\n    getUser: { roles: [admin] }\n    health: { public: true }\n",
			[]string{"authz.rules.getUser: this rule needs an authenticated caller"}},
		{"default public, only public rules", "", "  default: public\n  rules:\n    health: { public: true }\n", nil},
		{"api keys configured", "  api_keys: { file: keys.yaml }\n", "", nil},
		{"jwt configured", "  jwt:\n    - { issuer: i, keys: [pub.pem], audiences: [a], algorithms: [EdDSA] }\n", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.authn
			if body == "" {
				body = "  realm: x\n"
			}
			if tc.authz != "" {
				body += "authz:\n" + tc.authz
			}
			_, probs := loadAuthn(t, body, nil)
			var got []string
			for _, p := range probs {
				if strings.Contains(p, "no authentication is configured") {
					got = append(got, p)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "warning ") {
					t.Errorf("problem %q, want a warning containing %q", got[i], w)
				}
			}
		})
	}
}
