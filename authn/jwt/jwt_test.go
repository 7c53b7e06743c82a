package jwt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/revocation"
)

const (
	testIssuer = "https://idp.test/"
	testAud    = "orders-api"
)

// env is one authenticator in front of a real JWKS server.
type env struct {
	k      *testKeys
	idp    *idp
	remote *Remote
	clk    *clock
	a      *Authenticator
	rev    *revocation.Memory
}

type envOpt func(*IssuerOptions, *Options)

func newEnv(t *testing.T, opts ...envOpt) *env { return newEnvTB(t, opts...) }

func newEnvB(b *testing.B, cached bool) *env {
	return newEnvTB(b, func(_ *IssuerOptions, o *Options) {
		if !cached {
			o.CacheSize = 0
		}
	})
}

func newEnvTB(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	k := keys(t)
	e := &env{k: k, clk: newClock()}
	e.idp = newIDP(t, k.rsa, k.ec, k.ed)
	var err error
	e.remote, err = NewRemote(RemoteOptions{URL: e.idp.srv.URL + "/jwks", Now: e.clk.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.remote.Refresh(context.Background()); err != nil {
		t.Fatalf("initial Refresh: %v", err)
	}
	io := IssuerOptions{
		Issuer: testIssuer, Audiences: []string{testAud},
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256"},
		Keys:       e.remote, HMACSecret: k.secret, Leeway: 30 * time.Second,
		RolesClaim: "realm_access.roles",
	}
	e.rev = revocation.NewMemory(100, e.clk.Now)
	o := Options{CacheSize: 100, Now: e.clk.Now, Revocation: e.rev}
	for _, f := range opts {
		f(&io, &o)
	}
	is, err := NewIssuer(io)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	o.Issuers = append([]*Issuer{is}, o.Issuers...)
	e.a, err = New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// claims returns a valid claim set at the env's current time.
func (e *env) claims(mod ...func(map[string]any)) map[string]any {
	now := e.clk.Now().Unix()
	c := map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testAud,
		"iat": now, "exp": now + 300, "jti": "jti-" + randID(),
		"realm_access": map[string]any{"roles": []any{"admin", "user"}},
		"scope":        "orders:read orders:write",
	}
	for _, f := range mod {
		f(c)
	}
	return c
}

var idSeq int

func randID() string {
	idSeq++
	return strings.Repeat("x", idSeq%3) + time.Now().Format("150405.000000000")
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// check asserts the outcome of authenticating r: wantReason "" means success.
func check(t *testing.T, a authn.Authenticator, r *http.Request, wantReason string) *authn.Principal {
	t.Helper()
	p, err := a.Authenticate(r)
	if wantReason == "" {
		if err != nil {
			t.Fatalf("Authenticate = %v (reason %s), want success", err, authn.Reason(err))
		}
		return p
	}
	if err == nil {
		t.Fatalf("Authenticate succeeded for %q, want reason %s", p.Subject, wantReason)
	}
	if !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("Authenticate error %v does not wrap ErrInvalidCredentials", err)
	}
	if got := authn.Reason(err); got != wantReason {
		t.Fatalf("Authenticate reason = %q (%v), want %q", got, err, wantReason)
	}
	return nil
}

func TestValidTokens(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		alg string
		key jwk.Key
	}{
		{"RS256", e.k.rsa}, {"ES256", e.k.ec}, {"EdDSA", e.k.ed}, {"HS256", e.k.hs},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			p := check(t, e.a, bearer(mint(t, tc.alg, tc.key, e.claims(func(c map[string]any) { c["jti"] = "j-" + tc.alg }))), "")
			if p.Subject != "alice" || p.Issuer != testIssuer || p.Method != "jwt" || p.TokenID != "j-"+tc.alg {
				t.Errorf("principal = %+v", p)
			}
			if !p.HasRole("admin") || !p.HasRole("user") || len(p.Roles) != 2 {
				t.Errorf("roles = %v, want [admin user] from realm_access.roles", p.Roles)
			}
			if !p.HasScope("orders:read") || !p.HasScope("orders:write") {
				t.Errorf("scopes = %v", p.Scopes)
			}
			before := e.a.CacheLen()
			check(t, e.a, bearer(mint(t, tc.alg, tc.key, e.claims(func(c map[string]any) { c["jti"] = "j-" + tc.alg }))), "")
			if e.a.CacheLen() < before || e.a.CacheLen() == 0 {
				t.Errorf("cache went from %d to %d entries on a repeat %s token", before, e.a.CacheLen(), tc.alg)
			}
			if p.ExpiresAt.Unix() != e.clk.Now().Unix()+300 || p.IssuedAt.Unix() != e.clk.Now().Unix() {
				t.Errorf("iat/exp = %v/%v", p.IssuedAt, p.ExpiresAt)
			}
		})
	}
}

func TestRejections(t *testing.T) {
	e := newEnv(t)
	k := e.k
	now := e.clk.Now().Unix()
	valid := mint(t, "RS256", k.rsa, e.claims())
	parts := strings.Split(valid, ".")
	noneHdr := func(alg string) string {
		return craft(t, map[string]any{"alg": alg, "typ": "JWT"}, e.claims(), nil)
	}
	withHdr := func(extra map[string]any) string {
		h := map[string]any{"alg": "RS256", "kid": "rsa1"}
		for k, v := range extra {
			h[k] = v
		}
		return craft(t, h, e.claims(), rs256Signer(k.rsaPriv))
	}
	atkPub, _ := k.attacker.PublicKey()
	cases := []struct {
		name   string
		token  string
		reason string
	}{
		{"alg none", noneHdr("none"), authn.ReasonAlgNone},
		{"alg None", noneHdr("None"), authn.ReasonAlgNone},
		{"alg NONE", noneHdr("NONE"), authn.ReasonAlgNone},
		{"alg none with signature", parts[0][:0] + craft(t, map[string]any{"alg": "none"}, e.claims(), func([]byte) []byte { return []byte("sig") }), authn.ReasonAlgNone},
		{"HS256 signed with the RSA public key", craft(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, e.claims(), hs256Signer(rsaPublicPEM(t, k.rsaPriv))), authn.ReasonBadSignature},
		{"HS256 signed with the RSA public key no kid", craft(t, map[string]any{"alg": "HS256"}, e.claims(), hs256Signer(rsaPublicPEM(t, k.rsaPriv))), authn.ReasonBadSignature},
		{"alg not in allowlist PS256", mint(t, "PS256", k.rsa, e.claims()), authn.ReasonAlgNotAllowed},
		{"alg unknown", craft(t, map[string]any{"alg": "XX999"}, e.claims(), hs256Signer(k.secret)), authn.ReasonAlgNotAllowed},
		{"RS256 header on the EC key", craft(t, map[string]any{"alg": "RS256", "kid": "ec1"}, e.claims(), rs256Signer(k.rsaPriv)), authn.ReasonAlgKeyMismatch},
		{"forged by attacker key, kid of the issuer", craft(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, e.claims(), rs256Signer(mustRaw(t, k.attacker))), authn.ReasonBadSignature},
		{"expired", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["exp"] = now - 120 })), authn.ReasonExpired},
		{"nbf in the future", mint(t, "ES256", k.ec, e.claims(func(c map[string]any) { c["nbf"] = now + 120 })), authn.ReasonNotYetValid},
		{"iat in the future", mint(t, "ES256", k.ec, e.claims(func(c map[string]any) { c["iat"] = now + 120 })), authn.ReasonIssuedInFuture},
		{"wrong iss", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["iss"] = "https://evil.test/" })), authn.ReasonWrongIssuer},
		{"iss missing", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { delete(c, "iss") })), authn.ReasonWrongIssuer},
		{"aud mismatch", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["aud"] = "billing-api" })), authn.ReasonWrongAudience},
		{"aud array mismatch", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["aud"] = []string{"a", "b"} })), authn.ReasonWrongAudience},
		{"aud missing", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { delete(c, "aud") })), authn.ReasonWrongAudience},
		{"aud number", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["aud"] = 7 })), authn.ReasonWrongAudience},
		{"missing exp", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { delete(c, "exp") })), authn.ReasonMissingExp},
		{"exp is a string", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { c["exp"] = "never" })), authn.ReasonMalformed},
		{"missing sub", mint(t, "RS256", k.rsa, e.claims(func(c map[string]any) { delete(c, "sub") })), authn.ReasonMissingSubject},
		{"jku header", withHdr(map[string]any{"jku": "http://127.0.0.1:1/evil.json"}), authn.ReasonForbiddenHeader},
		{"x5u header", withHdr(map[string]any{"x5u": "http://127.0.0.1:1/evil.pem"}), authn.ReasonForbiddenHeader},
		{"embedded jwk header", withHdr(map[string]any{"jwk": atkPub}), authn.ReasonForbiddenHeader},
		{"x5c header", withHdr(map[string]any{"x5c": []string{"MIIB"}}), authn.ReasonForbiddenHeader},
		{"crit header", withHdr(map[string]any{"crit": []string{"exp"}, "exp": now}), authn.ReasonForbiddenHeader},
		{"b64 header", withHdr(map[string]any{"b64": false}), authn.ReasonForbiddenHeader},
		{"duplicate alg member", parts[0][:0] + craftRawHeader(t, `{"alg":"none","alg":"RS256","kid":"rsa1"}`, parts[1], parts[2]), authn.ReasonMalformed},
		{"signature stripped", parts[0] + "." + parts[1] + ".", authn.ReasonMalformed},
		{"two segments", parts[0] + "." + parts[1], authn.ReasonMalformed},
		{"truncated by one character", valid[:len(valid)-1], authn.ReasonMalformed},
		{"signature bytes truncated", parts[0] + "." + parts[1] + "." + strictB64.EncodeToString(mustB64(t, parts[2])[:200]), authn.ReasonBadSignature},
		{"truncated to header only", parts[0], authn.ReasonMalformed},
		{"payload swapped", parts[0] + "." + strictB64.EncodeToString([]byte(`{"iss":"https://idp.test/","sub":"admin","aud":"orders-api","exp":9999999999}`)) + "." + parts[2], authn.ReasonBadSignature},
		{"many dots", valid + ".x.y", authn.ReasonMalformed},
		{"only dots", "....", authn.ReasonMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], authn.ReasonMalformed},
		{"std base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+/." + parts[1] + "." + parts[2], authn.ReasonMalformed},
		{"oversize", parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2], authn.ReasonMalformed},
		{"header not json", "bm90LWpzb24." + parts[1] + "." + parts[2], authn.ReasonMalformed},
		{"header array", strictB64.EncodeToString([]byte(`["alg"]`)) + "." + parts[1] + "." + parts[2], authn.ReasonMalformed},
		{"alg not a string", craftRawHeader(t, `{"alg":256}`, parts[1], parts[2]), authn.ReasonMalformed},
		{"unknown kid", mint(t, "RS256", k.attacker, e.claims()), authn.ReasonUnknownKID},
		{"empty bearer", "", authn.ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, e.a, bearer(tc.token), tc.reason)
		})
	}
}

func mustB64(t testing.TB, s string) []byte {
	b, err := b64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func craftRawHeader(t testing.TB, hdr, p64, s64 string) string {
	return strictB64.EncodeToString([]byte(hdr)) + "." + p64 + "." + s64
}

func mustRaw(t testing.TB, k jwk.Key) *rsaPrivateKey {
	var raw rsaPrivateKey
	if err := jwk.Export(k, &raw); err != nil {
		t.Fatal(err)
	}
	return &raw
}

func TestLeewayAndAudArray(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now().Unix()
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
	}{
		{"exp 10s ago within 30s leeway", func(c map[string]any) { c["exp"] = now - 10 }},
		{"nbf 10s ahead within leeway", func(c map[string]any) { c["nbf"] = now + 10 }},
		{"aud array containing ours", func(c map[string]any) { c["aud"] = []string{"other", testAud} }},
		{"scp array", func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"orders:read"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims(tc.mod))), "")
			if len(p.Scopes) == 0 {
				t.Errorf("scopes empty")
			}
		})
	}
}

func TestBearerScheme(t *testing.T) {
	e := newEnv(t)
	tok := mint(t, "RS256", e.k.rsa, e.claims())
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		t.Run(scheme, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", scheme+" "+tok)
			check(t, e.a, r, "")
		})
	}
	t.Run("basic is not ours", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
		if _, err := e.a.Authenticate(r); !errors.Is(err, authn.ErrNoCredentials) {
			t.Fatalf("Authenticate(Basic) = %v, want ErrNoCredentials", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if _, err := e.a.Authenticate(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, authn.ErrNoCredentials) {
			t.Fatalf("Authenticate() = %v, want ErrNoCredentials", err)
		}
	})
}

func TestTwoTokens(t *testing.T) {
	cookieIss := func(io *IssuerOptions, o *Options) {
		is, err := NewIssuer(IssuerOptions{Issuer: "https://cookie.test/", Algorithms: []string{"HS256"},
			HMACSecret: keys(t).secret, Source: TokenSource{Kind: Cookie, Name: "session"}})
		if err != nil {
			t.Fatal(err)
		}
		o.Issuers = append(o.Issuers, is)
	}
	e := newEnv(t, cookieIss)
	tok := mint(t, "RS256", e.k.rsa, e.claims())
	tok2 := mint(t, "RS256", e.k.rsa, e.claims())
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"header and query", func() *http.Request {
			r := bearer(tok)
			r.URL.RawQuery = "access_token=" + tok2
			return r
		}},
		{"two Authorization headers", func() *http.Request {
			r := bearer(tok)
			r.Header.Add("Authorization", "Bearer "+tok2)
			return r
		}},
		{"bearer and basic", func() *http.Request {
			r := bearer(tok)
			r.Header.Add("Authorization", "Basic YWxpY2U6cHc=")
			return r
		}},
		{"header and cookie", func() *http.Request {
			r := bearer(tok)
			r.AddCookie(&http.Cookie{Name: "session", Value: tok2})
			return r
		}},
		{"two cookies", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(&http.Cookie{Name: "session", Value: tok})
			r.AddCookie(&http.Cookie{Name: "session", Value: tok2})
			return r
		}},
		{"same token twice", func() *http.Request {
			r := bearer(tok)
			r.Header.Add("Authorization", "Bearer "+tok)
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { check(t, e.a, tc.req(), authn.ReasonMultipleTokens) })
	}
	t.Run("cookie issuer alone", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		now := e.clk.Now().Unix()
		r.AddCookie(&http.Cookie{Name: "session", Value: mint(t, "HS256", e.k.hs, map[string]any{"iss": "https://cookie.test/", "sub": "bob", "exp": now + 60})})
		if p := check(t, e.a, r, ""); p.Subject != "bob" {
			t.Fatalf("subject = %q", p.Subject)
		}
	})
	t.Run("cookie issuer token in the bearer header", func(t *testing.T) {
		now := e.clk.Now().Unix()
		check(t, e.a, bearer(mint(t, "HS256", e.k.hs, map[string]any{"iss": "https://cookie.test/", "sub": "bob", "exp": now + 60})), authn.ReasonWrongIssuer)
	})
}

func TestHSOnlyForIssuersWithSecret(t *testing.T) {
	k := keys(t)
	// An issuer without a shared secret: HS256 can not even be configured...
	if _, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{"HS256"}}); err == nil {
		t.Fatal("NewIssuer(HS256 without secret) succeeded")
	}
	if _, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{"HS256"}, HMACSecret: []byte("short")}); err == nil {
		t.Fatal("NewIssuer(HS256 with a 5-byte secret) succeeded")
	}
	if _, err := NewIssuer(IssuerOptions{Issuer: "x", Algorithms: []string{"none"}}); err == nil {
		t.Fatal("NewIssuer(none) succeeded")
	}
	// ...and an RS-only issuer rejects the RS/HS confusion token as not allowed.
	e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.Algorithms = []string{"RS256"}; io.HMACSecret = nil })
	tok := craft(t, map[string]any{"alg": "HS256", "kid": "rsa1"}, e.claims(), hs256Signer(rsaPublicPEM(t, k.rsaPriv)))
	check(t, e.a, bearer(tok), authn.ReasonAlgNotAllowed)
	check(t, e.a, bearer(mint(t, "ES256", k.ec, e.claims())), authn.ReasonAlgNotAllowed)
}

func TestAllowMissingExpAndMaxLifetime(t *testing.T) {
	e := newEnv(t, func(io *IssuerOptions, _ *Options) { io.AllowMissingExp = true; io.MaxLifetime = time.Hour })
	now := e.clk.Now().Unix()
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa, e.claims(func(c map[string]any) { delete(c, "exp") }))), authn.ReasonLifetimeTooLong)
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa, e.claims(func(c map[string]any) { c["exp"] = now + 7200 }))), authn.ReasonLifetimeTooLong)
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa, e.claims(func(c map[string]any) { c["exp"] = now + 1800 }))), "")
	e2 := newEnv(t, func(io *IssuerOptions, _ *Options) { io.AllowMissingExp = true })
	check(t, e2.a, bearer(mint(t, "RS256", e.k.rsa, e2.claims(func(c map[string]any) { delete(c, "exp") }))), "")
}

func TestUnknownKIDThenRotation(t *testing.T) {
	e := newEnv(t)
	hits := e.idp.jwksHits()
	tok := mint(t, "RS256", e.k.rsa2, e.claims())
	// The IdP has not published rsa2 yet. The cooldown counts from
	// unknown-kid fetches only, so this first one fetches (and finds
	// nothing), and starts the cooldown.
	check(t, e.a, bearer(tok), authn.ReasonUnknownKID)
	if got := e.idp.jwksHits(); got != hits+1 {
		t.Fatalf("JWKS fetched %d times for the first unknown kid, want 1", got-hits)
	}
	check(t, e.a, bearer(tok), authn.ReasonUnknownKID)
	if got := e.idp.jwksHits(); got != hits+1 {
		t.Fatalf("JWKS fetched %d times within the cooldown, want 1", got-hits)
	}
	// The IdP rotates: rsa2 in, rsa1 out.
	e.idp.setKeys(t, e.k.rsa2, e.k.ec)
	e.clk.Add(11 * time.Second)
	check(t, e.a, bearer(tok), "")
	hits++
	if got := e.idp.jwksHits(); got != hits+1 {
		t.Fatalf("JWKS fetched %d times after rotation, want 1", got-hits)
	}
	// A flood of made-up kids within the cooldown costs no fetch.
	for i := range 20 {
		bad := craft(t, map[string]any{"alg": "RS256", "kid": "made-up-" + string(rune('a'+i))}, e.claims(), rs256Signer(e.k.rsaPriv))
		check(t, e.a, bearer(bad), authn.ReasonUnknownKID)
	}
	if got := e.idp.jwksHits(); got != hits+1 {
		t.Fatalf("unknown-kid flood caused %d fetches, want 0", got-hits-1)
	}
	// The rotated-out key no longer verifies.
	e.clk.Add(11 * time.Second)
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa, e.claims())), authn.ReasonUnknownKID)
}

// TestRotationRightAfterScheduledFetch: a key published just after the
// fetch at start (or any scheduled refresh) is fetched on its first use.
// Before, the cooldown counted from every fetch, so the new key was refused
// for up to unknown_kid_cooldown (10 s) after each refresh.
func TestRotationRightAfterScheduledFetch(t *testing.T) {
	e := newEnv(t)
	hits := e.idp.jwksHits()
	e.idp.setKeys(t, e.k.rsa, e.k.rsa2, e.k.ec)
	e.clk.Add(time.Second)
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa2, e.claims())), "")
	if got := e.idp.jwksHits(); got != hits+1 {
		t.Fatalf("JWKS fetched %d times, want 1", got-hits)
	}
	// A scheduled refresh right after does not start the cooldown either,
	// but unknown kids after an unknown-kid fetch do wait for it.
	if err := e.remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		bad := craft(t, map[string]any{"alg": "RS256", "kid": "made-up-" + string(rune('a'+i))}, e.claims(), rs256Signer(e.k.rsaPriv))
		check(t, e.a, bearer(bad), authn.ReasonUnknownKID)
	}
	if got := e.idp.jwksHits(); got != hits+2 {
		t.Fatalf("refresh plus 10 unknown kids within the cooldown: %d fetches, want 2", got-hits)
	}
}

func TestIdPOutage(t *testing.T) {
	e := newEnv(t)
	tok := mint(t, "ES256", e.k.ec, e.claims())
	check(t, e.a, bearer(tok), "")
	e.idp.status.Store(http.StatusInternalServerError)
	e.clk.Add(time.Hour)
	if err := e.remote.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh during outage succeeded")
	}
	if got := e.remote.NextRefresh(); got != time.Minute {
		t.Errorf("NextRefresh after failure = %v, want MinRefresh 1m", got)
	}
	// The last good key set keeps serving (a fresh token, not from the cache).
	check(t, e.a, bearer(mint(t, "ES256", e.k.ec, e.claims())), "")
	// Unknown kid during the outage: refetch fails, still unknown_kid, no crash.
	e.clk.Add(time.Minute)
	check(t, e.a, bearer(mint(t, "RS256", e.k.rsa2, e.claims())), authn.ReasonUnknownKID)
	// The IdP recovers with garbage: the last good set still serves.
	e.idp.status.Store(0)
	garbage := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
	e.idp.jwks.Store(&garbage)
	if err := e.remote.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with only a symmetric key succeeded")
	}
	check(t, e.a, bearer(mint(t, "EdDSA", e.k.ed, e.claims())), "")
}

func TestCacheControl(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		cc   string
		want time.Duration
	}{
		{"max-age=120", 2 * time.Minute},
		{"public, max-age=5", time.Minute},
		{"max-age=999999", time.Hour},
		{"no-store", time.Minute},
		{"", time.Hour},
		{"max-age=bogus", time.Hour},
	} {
		t.Run(tc.cc, func(t *testing.T) {
			cc := tc.cc
			e.idp.cacheControl.Store(&cc)
			if err := e.remote.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := e.remote.NextRefresh(); got != tc.want {
				t.Errorf("NextRefresh with %q = %v, want %v", tc.cc, got, tc.want)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	k := keys(t)
	d := newIDP(t, k.rsa)
	clk := newClock()
	r, err := NewRemote(RemoteOptions{DiscoveryIssuer: d.srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(IssuerOptions{Issuer: d.srv.URL, Algorithms: []string{"RS256"}, Keys: r})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Issuers: []*Issuer{is}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now().Unix()
	check(t, a, bearer(mint(t, "RS256", k.rsa, map[string]any{"iss": d.srv.URL, "sub": "s", "exp": now + 60})), "")

	t.Run("issuer mismatch in the discovery document", func(t *testing.T) {
		r, _ := NewRemote(RemoteOptions{DiscoveryIssuer: d.srv.URL + "/", Now: clk.Now})
		if err := r.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("Refresh = %v, want issuer mismatch", err)
		}
	})
}

func TestBackgroundRefreshStops(t *testing.T) {
	k := keys(t)
	d := newIDP(t, k.rsa)
	r, err := NewRemote(RemoteOptions{URL: d.srv.URL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	if ks, err := r.Keys(context.Background()); err != nil || ks.Len() != 1 {
		t.Fatalf("Keys after Start = %v, %v", ks, err)
	}
	done := make(chan struct{})
	go func() { _ = r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the refresher")
	}
}

func TestStaticKeys(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	// A private PEM (as `gatehouse token` uses) and a public JWK without kid.
	privPEM, err := jwk.Pem(k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/signing.pem", privPEM)
	edPub, _ := k.ed.PublicKey()
	_ = edPub.Remove(jwk.KeyIDKey)
	writeJSON(t, dir+"/ed.jwk", edPub)
	set, warns, err := LoadKeyFiles(dir+"/signing.pem", dir+"/ed.jwk")
	if err != nil || len(warns) != 0 || set.Len() != 2 {
		t.Fatalf("LoadKeyFiles = %d keys, %v, %v", set.Len(), warns, err)
	}
	is, err := NewIssuer(IssuerOptions{Issuer: "gatehouse-cli", Algorithms: []string{"RS256", "EdDSA"}, Keys: Static{set}})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	a, _ := New(Options{Issuers: []*Issuer{is}, Now: clk.Now})
	now := clk.Now().Unix()
	c := map[string]any{"iss": "gatehouse-cli", "sub": "dev", "exp": now + 60}
	// The PEM key has no kid: it gets its thumbprint, and so does a token minted from the same file.
	sk, err := ParseKeys(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := sk.Key(0)
	check(t, a, bearer(mint(t, "RS256", signer, c)), "")
	edSigner, _ := k.ed.Clone()
	kid, _ := KeyID(edSigner)
	_ = edSigner.Set(jwk.KeyIDKey, kid)
	check(t, a, bearer(mint(t, "EdDSA", edSigner, c)), "")
	t.Run("symmetric key file refused", func(t *testing.T) {
		writeJSON(t, dir+"/oct.jwk", k.hs)
		if _, _, err := LoadKeyFiles(dir + "/oct.jwk"); err == nil {
			t.Fatal("LoadKeyFiles(oct) succeeded")
		}
	})
}

func TestRevocationAfterCache(t *testing.T) {
	e := newEnv(t)
	tok := mint(t, "RS256", e.k.rsa, e.claims(func(c map[string]any) { c["jti"] = "to-revoke" }))
	p := check(t, e.a, bearer(tok), "")
	if e.a.CacheLen() != 1 {
		t.Fatalf("CacheLen = %d, want 1", e.a.CacheLen())
	}
	check(t, e.a, bearer(tok), "") // served from the cache
	if err := e.rev.RevokeToken(context.Background(), p.TokenID, p.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	check(t, e.a, bearer(tok), authn.ReasonRevoked)

	t.Run("log out everywhere", func(t *testing.T) {
		old := mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) { c["sub"] = "bob" }))
		check(t, e.a, bearer(old), "")
		now := e.clk.Now()
		if err := e.rev.RevokeSubject(context.Background(), "bob", now.Add(time.Second), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		check(t, e.a, bearer(old), authn.ReasonRevoked)
		e.clk.Add(2 * time.Second)
		fresh := mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) { c["sub"] = "bob" }))
		check(t, e.a, bearer(fresh), "")
	})
	t.Run("token without jti revoked by digest", func(t *testing.T) {
		tok := mint(t, "ES256", e.k.ec, e.claims(func(c map[string]any) { delete(c, "jti") }))
		p := check(t, e.a, bearer(tok), "")
		if !strings.HasPrefix(p.TokenID, "sha256:") {
			t.Fatalf("TokenID = %q, want digest", p.TokenID)
		}
		_ = e.rev.RevokeToken(context.Background(), p.TokenID, p.ExpiresAt)
		check(t, e.a, bearer(tok), authn.ReasonRevoked)
	})
}

func TestCacheLifetime(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now().Unix()
	tok := mint(t, "RS256", e.k.rsa, e.claims(func(c map[string]any) { c["exp"] = now + 10 }))
	check(t, e.a, bearer(tok), "")
	e.clk.Add(45 * time.Second) // past exp + leeway: the cache must not keep it alive
	check(t, e.a, bearer(tok), authn.ReasonExpired)

	t.Run("key rotation purges the cache", func(t *testing.T) {
		tok := mint(t, "RS256", e.k.rsa, e.claims())
		check(t, e.a, bearer(tok), "")
		if e.a.CacheLen() == 0 {
			t.Fatal("token not cached")
		}
		e.idp.setKeys(t, e.k.rsa2) // rsa1 withdrawn at the IdP
		if err := e.remote.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		check(t, e.a, bearer(tok), authn.ReasonUnknownKID)
	})
}
