package jwt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
)

// Tokens an API issues itself: no iss, no aud, a short HS256 secret, a
// subject in user_id. Each opt-in must open exactly that and nothing more.

func TestMissingIssuerOptIn(t *testing.T) {
	strict := newEnv(t)
	open := newEnv(t, func(io *IssuerOptions, _ *Options) { io.AllowMissingIssuer = true })
	k := strict.k
	noIss := func(e *env, mod ...func(map[string]any)) map[string]any {
		return e.claims(append([]func(map[string]any){func(c map[string]any) { delete(c, "iss") }}, mod...)...)
	}
	t.Run("without the opt-in a token without iss is refused", func(t *testing.T) {
		check(t, strict.a, bearer(mint(t, "RS256", k.rsa, noIss(strict))), authn.ReasonWrongIssuer)
	})
	t.Run("with the opt-in it is accepted under the configured name", func(t *testing.T) {
		p := check(t, open.a, bearer(mint(t, "RS256", k.rsa, noIss(open))), "")
		if p.Issuer != testIssuer || p.Subject != "alice" {
			t.Fatalf("principal issuer %q subject %q", p.Issuer, p.Subject)
		}
		check(t, open.a, bearer(mint(t, "ES256", k.ec, open.claims())), "")
	})
	for _, tc := range []struct {
		name   string
		token  func(e *env) string
		reason string
	}{
		{"another iss", func(e *env) string {
			return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = "https://evil.test/" }))
		}, authn.ReasonWrongIssuer},
		{"empty iss", func(e *env) string {
			return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = "" }))
		}, authn.ReasonWrongIssuer},
		{"null iss", func(e *env) string {
			return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = nil }))
		}, authn.ReasonWrongIssuer},
		{"numeric iss", func(e *env) string { return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = 1 })) }, authn.ReasonWrongIssuer},
		{"array iss naming ours", func(e *env) string {
			return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = []string{testIssuer} }))
		}, authn.ReasonWrongIssuer},
		{"iss in another case", func(e *env) string {
			return mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = strings.ToUpper(testIssuer) }))
		}, authn.ReasonWrongIssuer},
		{"alg none without iss", func(e *env) string {
			return craft(t, map[string]any{"alg": "none"}, noIss(e), nil)
		}, authn.ReasonAlgNone},
		{"RS/HS confusion without iss", func(e *env) string {
			return craft(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, noIss(e), hs256Signer(rsaPublicPEM(t, k.rsaPriv)))
		}, authn.ReasonBadSignature},
		{"forged with the issuer's kid, without iss", func(e *env) string {
			return craft(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, noIss(e), rs256Signer(mustRaw(t, k.attacker)))
		}, authn.ReasonBadSignature},
		{"attacker key without iss", func(e *env) string { return mint(t, "RS256", k.attacker, noIss(e)) }, authn.ReasonUnknownKID},
		{"expired without iss", func(e *env) string {
			return mint(t, "RS256", k.rsa, noIss(e, func(c map[string]any) { c["exp"] = e.clk.Now().Unix() - 3600 }))
		}, authn.ReasonExpired},
	} {
		t.Run("opt-in on: "+tc.name, func(t *testing.T) { check(t, open.a, bearer(tc.token(open)), tc.reason) })
	}
	t.Run("two issuers accepting no iss on one source", func(t *testing.T) {
		mk := func(name string) *Issuer {
			is, err := NewIssuer(IssuerOptions{Issuer: name, Algorithms: []string{"HS256"}, HMACSecret: k.secret, AllowMissingIssuer: true})
			if err != nil {
				t.Fatal(err)
			}
			return is
		}
		if _, err := New(Options{Issuers: []*Issuer{mk("a"), mk("b")}}); err == nil {
			t.Fatal("New accepted two issuers that both take tokens without iss from the bearer header")
		}
	})
}

func TestMissingAudienceOptIn(t *testing.T) {
	strict := newEnv(t)
	open := newEnv(t, func(io *IssuerOptions, _ *Options) { io.AllowMissingAudience = true })
	noAud := func(c map[string]any) { delete(c, "aud") }
	check(t, strict.a, bearer(mint(t, "RS256", strict.k.rsa, strict.claims(noAud))), authn.ReasonWrongAudience)
	check(t, open.a, bearer(mint(t, "RS256", open.k.rsa, open.claims(noAud))), "")
	check(t, open.a, bearer(mint(t, "RS256", open.k.rsa, open.claims())), "")
	for name, aud := range map[string]any{"other api": "billing-api", "null": nil, "empty array": []string{}, "number": 7} {
		t.Run("opt-in on, aud "+name, func(t *testing.T) {
			check(t, open.a, bearer(mint(t, "RS256", open.k.rsa, open.claims(func(c map[string]any) { c["aud"] = aud }))), authn.ReasonWrongAudience)
		})
	}
}

func TestWeakSecret(t *testing.T) {
	weak := []byte("s3cr3t-key") // 10 bytes, the kind an API ships with
	t.Run("refused without the opt-in", func(t *testing.T) {
		for _, tc := range []struct {
			alg    string
			secret int
		}{{"HS256", 31}, {"HS384", 47}, {"HS512", 63}, {"HS512", 32}} {
			if _, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{tc.alg}, HMACSecret: make([]byte, tc.secret)}); err == nil {
				t.Errorf("NewIssuer(%s, %d-byte secret) succeeded", tc.alg, tc.secret)
			}
		}
		for _, tc := range []struct {
			alg    string
			secret int
		}{{"HS256", 32}, {"HS384", 48}, {"HS512", 64}} {
			is, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{tc.alg}, HMACSecret: make([]byte, tc.secret)})
			if err != nil || is.WeakSecret() {
				t.Errorf("NewIssuer(%s, %d-byte secret) = %v, weak %v; want accepted, not weak", tc.alg, tc.secret, err, is != nil && is.WeakSecret())
			}
		}
	})
	t.Run("an empty secret is refused even with the opt-in", func(t *testing.T) {
		if _, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{"HS256"}, AllowWeakSecret: true}); err == nil {
			t.Fatal("NewIssuer(HS256, no secret, AllowWeakSecret) succeeded")
		}
	})
	e := newEnv(t, func(io *IssuerOptions, _ *Options) {
		io.HMACSecret, io.AllowWeakSecret = weak, true
		io.Algorithms = []string{"RS256", "HS256"}
	})
	if !e.a.o.Issuers[0].WeakSecret() {
		t.Fatal("WeakSecret() = false for a 10-byte HS256 secret")
	}
	hsKey, err := jwk.Import(weak)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a token signed with the weak secret verifies", func(t *testing.T) {
		if p := check(t, e.a, bearer(mint(t, "HS256", hsKey, e.claims())), ""); p.Subject != "alice" {
			t.Fatalf("subject %q", p.Subject)
		}
	})
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"signed with a near-miss secret", craft(t, map[string]any{"alg": "HS256"}, e.claims(), hs256Signer([]byte("s3cr3t-kez"))), authn.ReasonBadSignature},
		{"signed with the secret plus a byte", craft(t, map[string]any{"alg": "HS256"}, e.claims(), hs256Signer(append(append([]byte{}, weak...), 'x'))), authn.ReasonBadSignature},
		{"signed with an empty secret", craft(t, map[string]any{"alg": "HS256"}, e.claims(), hs256Signer(nil)), authn.ReasonBadSignature},
		{"alg none", craft(t, map[string]any{"alg": "none"}, e.claims(), nil), authn.ReasonAlgNone},
		{"alg nOnE with a signature", craft(t, map[string]any{"alg": "nOnE"}, e.claims(), hs256Signer(weak)), authn.ReasonAlgNone},
		{"HS512 with the weak secret (not allowed)", craft(t, map[string]any{"alg": "HS512"}, e.claims(), hs256Signer(weak)), authn.ReasonAlgNotAllowed},
		{"RS/HS confusion with the RSA public key", craft(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, e.claims(), hs256Signer(rsaPublicPEM(t, e.k.rsaPriv))), authn.ReasonBadSignature},
		{"RS256 header, HMAC signature with the weak secret", craft(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, e.claims(), hs256Signer(weak)), authn.ReasonBadSignature},
		{"embedded jwk carrying the secret", craft(t, map[string]any{"alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": strictB64.EncodeToString([]byte("attacker"))}}, e.claims(), hs256Signer([]byte("attacker"))), authn.ReasonForbiddenHeader},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, e.a, bearer(tc.token), tc.reason) })
	}
}

func TestMaxTokenLifetime(t *testing.T) {
	e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.MaxLifetime = time.Hour })
	now := e.clk.Now().Unix()
	for _, tc := range []struct {
		name   string
		mod    func(map[string]any)
		reason string
	}{
		{"iat now, exp in 30m", func(c map[string]any) { c["exp"] = now + 1800 }, ""},
		{"iat now, exp in a year", func(c map[string]any) { c["exp"] = now + 365*86400 }, authn.ReasonLifetimeTooLong},
		{"iat 23h ago, exp in 2h: 25h life although only 2h are left", func(c map[string]any) { c["iat"] = now - 23*3600; c["exp"] = now + 2*3600 }, authn.ReasonLifetimeTooLong},
		{"no iat, exp in 30m", func(c map[string]any) { delete(c, "iat"); c["exp"] = now + 1800 }, ""},
		{"no iat, exp in a year", func(c map[string]any) { delete(c, "iat"); c["exp"] = now + 365*86400 }, authn.ReasonLifetimeTooLong},
		{"no iat, exp 1h10s ahead (within leeway)", func(c map[string]any) { delete(c, "iat"); c["exp"] = now + 3610 }, ""},
		{"no iat, exp 1h31s ahead (beyond leeway)", func(c map[string]any) { delete(c, "iat"); c["exp"] = now + 3631 }, authn.ReasonLifetimeTooLong},
		{"iat in the future to shorten the apparent life", func(c map[string]any) { c["iat"] = now + 86400; c["exp"] = now + 86400 + 60 }, authn.ReasonIssuedInFuture},
		{"iat a string", func(c map[string]any) { c["iat"] = "now" }, authn.ReasonMalformed},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, authn.ReasonMissingExp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims(tc.mod))), tc.reason)
		})
	}
}

func TestSubjectClaim(t *testing.T) {
	e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.SubjectClaim = "user_id" })
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, tc := range []struct {
		name   string
		v      any // the user_id claim; absent when nil
		want   string
		reason string
	}{
		{"string", "u-42", "u-42", ""},
		{"integer", 42, "42", ""},
		{"negative integer", -7, "-7", ""},
		{"zero", 0, "0", ""},
		{"integer beyond 2^53 keeps every digit", raw("12345678901234567"), "12345678901234567", ""},
		{"max int64", raw("9223372036854775807"), "9223372036854775807", ""},
		{"beyond int64", raw("9223372036854775808"), "", authn.ReasonInvalidSubject},
		{"float", raw("42.5"), "", authn.ReasonInvalidSubject},
		{"integral float", raw("42.0"), "", authn.ReasonInvalidSubject},
		{"exponent", raw("4.2e1"), "", authn.ReasonInvalidSubject},
		{"integral exponent", raw("42e0"), "", authn.ReasonInvalidSubject},
		{"minus zero", raw("-0"), "", authn.ReasonInvalidSubject},
		{"bool", true, "", authn.ReasonInvalidSubject},
		{"null", raw("null"), "", authn.ReasonInvalidSubject},
		{"array", []string{"alice", "admin"}, "", authn.ReasonInvalidSubject},
		{"single-element array", []string{"alice"}, "", authn.ReasonInvalidSubject},
		{"object", map[string]any{"id": 1}, "", authn.ReasonInvalidSubject},
		{"empty string", "", "", authn.ReasonMissingSubject},
		{"missing, though sub is present", nil, "", authn.ReasonMissingSubject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) {
				c["sub"] = "admin" // never used as a fallback
				if tc.v != nil {
					c["user_id"] = tc.v
				}
			}))
			p := check(t, e.a, bearer(tok), tc.reason)
			if tc.reason == "" && p.Subject != tc.want {
				t.Fatalf("Subject = %q, want %q", p.Subject, tc.want)
			}
		})
	}
	t.Run("duplicate user_id members", func(t *testing.T) {
		payload := `{"iss":"` + testIssuer + `","aud":"` + testAud + `","exp":` + jsonNum(e.clk.Now().Unix()+60) + `,"user_id":"bob","user_id":"admin"}`
		tok := craftPayload(t, map[string]any{"alg": "HS256"}, payload, hs256Signer(e.k.secret))
		check(t, e.a, bearer(tok), authn.ReasonMalformed)
	})
	t.Run("dotted path and a top-level name with dots", func(t *testing.T) {
		for claim, mod := range map[string]func(map[string]any){
			"user.id":              func(c map[string]any) { c["user"] = map[string]any{"id": 7} },
			"https://api.test/uid": func(c map[string]any) { c["https://api.test/uid"] = "7" },
		} {
			e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.SubjectClaim = claim })
			p := check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims(mod))), "")
			if p.Subject != "7" {
				t.Errorf("subject_claim %q: Subject = %q, want 7", claim, p.Subject)
			}
		}
		e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.SubjectClaim = "user.id" })
		check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) { c["user"] = "id" }))), authn.ReasonMissingSubject)
		check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) { c["user"] = map[string]any{"id": 1.5} }))), authn.ReasonInvalidSubject)
	})
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// craftPayload is craft with the payload JSON given verbatim (duplicate
// members and other things json.Marshal would not write).
func craftPayload(t testing.TB, hdr map[string]any, payload string, sign func([]byte) []byte) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	in := strictB64.EncodeToString(hb) + "." + strictB64.EncodeToString([]byte(payload))
	return in + "." + strictB64.EncodeToString(sign([]byte(in)))
}
