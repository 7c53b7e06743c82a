package library

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/authn/apikey"
	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
	"github.com/gatehouse/gatehouse/scan/report"
	"github.com/gatehouse/gatehouse/weaklist"
)

const (
	issuer   = "https://idp.example.com/"
	audience = "orders-api"
)

// issuerKey is a real ES256 key pair, generated per test run.
type issuerKey struct {
	priv jwk.Key
	pub  jwk.Set
}

func newIssuerKey(t *testing.T, kid string) issuerKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := priv.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	return issuerKey{priv: priv, pub: set}
}

func (k issuerKey) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	c := map[string]any{
		"iss": issuer, "aud": audience, "iat": time.Now().Unix(),
		"exp": time.Now().Add(30 * time.Minute).Unix(), "jti": fmt.Sprint(time.Now().UnixNano()),
	}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
			continue
		}
		c[n] = v
	}
	tok, err := jwt.Mint(c, "ES256", k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func loadSpec(t *testing.T) *openapi.Spec {
	t.Helper()
	spec, err := openapi.Load("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

type env struct {
	spec            *openapi.Spec
	key             issuerKey
	direct, through *httptest.Server
	gw              *Gateway
	apiKey          string
}

// newEnv starts the vulnerable API twice on loopback: once bare, once
// behind the gatehouse chain.
func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	e := &env{spec: loadSpec(t), key: newIssuerKey(t, "k1")}
	key, digest, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e.apiKey = key
	o.Issuer, o.Audience, o.Keys = issuer, audience, e.key.pub
	o.APIKeys = []apikey.Key{{Digest: digest, Subject: "2"}}
	if o.Rate == "" {
		o.Rate, o.Burst = "1000/s", 1000
	}
	gw, err := Protect(context.Background(), e.spec, NewAPI(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	e.direct = httptest.NewServer(NewAPI())
	e.through = httptest.NewServer(gw)
	t.Cleanup(func() {
		e.direct.Close()
		e.through.Close()
		if err := gw.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func do(t *testing.T, method, url string, h http.Header, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// unsigned builds an alg=none token.
func unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// TestChain attacks the chain over loopback: each request that the bare
// API gets wrong must be refused (or cleaned) through gatehouse.
func TestChain(t *testing.T) {
	e := newEnv(t, Options{})
	alice := e.key.token(t, map[string]any{"sub": "1"})
	attacker := newIssuerKey(t, "k1") // same kid, different key
	now := time.Now().Unix()
	std := map[string]any{"iss": issuer, "aud": audience, "sub": "1", "exp": now + 600}

	// The bare API leaks and trusts what the tests below expect refused, so
	// each refusal is the chain's doing.
	if code, _, body := do(t, "GET", e.direct.URL+"/users/2", bearer(unsigned(std)), ""); code != 200 || !strings.Contains(body, "password_hash") {
		t.Fatalf("direct GET /users/2 with an unsigned token = %d %s, want 200 with password_hash (the API's blunders)", code, body)
	}

	tests := []struct {
		name, method, path, body string
		h                        http.Header
		want                     int
		wantBody, notBody        string
	}{
		{name: "no credentials", method: "GET", path: "/me", want: 401},
		{name: "own record, hash filtered", method: "GET", path: "/me", h: bearer(alice), want: 200, wantBody: `"name":"alice"`, notBody: "password_hash"},
		{name: "own object", method: "GET", path: "/users/1", h: bearer(alice), want: 200, wantBody: `"id":1`, notBody: "$2b$"},
		{name: "another user's object (BOLA)", method: "GET", path: "/users/2", h: bearer(alice), want: 403},
		{name: "non-canonical id", method: "GET", path: "/users/01", h: bearer(alice), want: 403},
		{name: "encoded dot segment", method: "GET", path: "/users/%2e%2e/2", h: bearer(alice), want: 400},
		{name: "encoded slash", method: "GET", path: "/users/1%2F..%2F2", h: bearer(alice), want: 400},
		{name: "case variant of a literal", method: "GET", path: "/USERS/2", h: bearer(alice), want: 404},
		{name: "undeclared method", method: "DELETE", path: "/users/2", h: bearer(alice), want: 405},
		{name: "spoofed identity header", method: "GET", path: "/users/2", h: http.Header{"Authorization": {"Bearer " + alice}, "X-Gatehouse-Subject": {"2"}}, want: 403},
		{name: "spoofed identity header, underscore spelling", method: "GET", path: "/me", h: http.Header{"X_gatehouse_subject": {"2"}}, want: 401},
		{name: "alg none", method: "GET", path: "/me", h: bearer(unsigned(std)), want: 401},
		{name: "HS256 with a well-known secret", method: "GET", path: "/me", h: bearer(dynamic.Sign(std, weaklist.JWTSecrets[0])), want: 401},
		{name: "signed by another key with the same kid", method: "GET", path: "/me", h: bearer(attacker.token(t, map[string]any{"sub": "1"})), want: 401},
		{name: "expired", method: "GET", path: "/me", h: bearer(e.key.token(t, map[string]any{"sub": "1", "iat": now - 7200, "exp": now - 3600})), want: 401},
		{name: "no exp", method: "GET", path: "/me", h: bearer(e.key.token(t, map[string]any{"sub": "1", "exp": nil})), want: 401},
		{name: "wrong audience", method: "GET", path: "/me", h: bearer(e.key.token(t, map[string]any{"sub": "1", "aud": "billing"})), want: 401},
		{name: "API key", method: "GET", path: "/me", h: http.Header{"X-Api-Key": {e.apiKey}}, want: 200, wantBody: `"name":"bob"`},
		{name: "wrong API key", method: "GET", path: "/me", h: http.Header{"X-Api-Key": {"ghk_" + strings.Repeat("A", 43)}}, want: 401},
		{name: "valid order", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":"pen","qty":2}`, want: 201, wantBody: `"item":"pen"`, notBody: "owner"},
		{name: "mass assignment", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":"pen","qty":2,"owner":2}`, want: 400},
		// The policy reads the body for its CEL rule strictly (jsonx): a
		// duplicate key, however spelled, is refused there, before the
		// validator, so no two readers can see two different orders.
		{name: "duplicate key, escaped", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":"pen","qty":2,"\u0071ty":3}`, want: 403},
		{name: "duplicate key hiding a bulk order", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":"pen","qty":2,"\u0071ty":90}`, want: 403},
		{name: "wrong type", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":["pen"],"qty":2}`, want: 400},
		{name: "CEL rule on the body", method: "POST", path: "/orders", h: bearer(alice), body: `{"item":"pen","qty":60}`, want: 403},
		{name: "SQL injection in a query value", method: "GET", path: "/orders?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", h: bearer(alice), want: 403},
		{name: "undeclared query parameter", method: "GET", path: "/orders?q=pen&debug=1", h: bearer(alice), want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := do(t, tc.method, e.through.URL+tc.path, tc.h, tc.body)
			if code != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			}
			if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %s lacks %s", body, tc.wantBody)
			}
			if tc.notBody != "" && strings.Contains(body, tc.notBody) {
				t.Errorf("body %s contains %s", body, tc.notBody)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff on every answer", hdr.Get("X-Content-Type-Options"))
			}
			if code >= 400 && strings.Contains(body, "openapi:") {
				t.Errorf("error body leaks internals: %s", body)
			}
		})
	}
}

// TestRateLimitPerUser: the limit is keyed by the verified user, so one
// user's flood does not throttle another, and a new token does not reset it.
func TestRateLimitPerUser(t *testing.T) {
	e := newEnv(t, Options{Rate: "2/min", Burst: 2})
	var got []int
	for _, sub := range []string{"1", "1", "1", "2"} {
		code, hdr, _ := do(t, "GET", e.through.URL+"/me", bearer(e.key.token(t, map[string]any{"sub": sub})), "")
		got = append(got, code)
		if code == 429 && hdr.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if want := []int{200, 200, 429, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}
}

// TestReplicasShareRedis: two replicas of the chain with one Redis share
// the rate limit and the revocation list.
func TestReplicasShareRedis(t *testing.T) {
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_REDIS unset: the two-replica Redis test needs a Redis (.ci/run starts one)")
	}
	prefix := fmt.Sprintf("library-example-%d:", time.Now().UnixNano())
	a := newEnv(t, Options{Rate: "2/min", Burst: 2, RedisURL: url, RedisPrefix: prefix})
	b, err := Protect(context.Background(), a.spec, NewAPI(), Options{Issuer: issuer, Audience: audience, Keys: a.key.pub,
		Rate: "2/min", Burst: 2, RedisURL: url, RedisPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bs := httptest.NewServer(b)
	defer bs.Close()

	var got []int
	for _, u := range []string{a.through.URL, bs.URL, a.through.URL, bs.URL} {
		code, _, _ := do(t, "GET", u+"/me", bearer(a.key.token(t, map[string]any{"sub": "1"})), "")
		got = append(got, code)
	}
	if want := []int{200, 200, 429, 429}; !slices.Equal(got, want) {
		t.Fatalf("statuses across replicas = %v, want %v (one shared limit)", got, want)
	}

	// Logout on replica A: replica B refuses the token.
	tok := a.key.token(t, map[string]any{"sub": "2", "jti": "logout-" + prefix})
	if err := a.gw.Revocation.RevokeToken(context.Background(), "logout-"+prefix, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code, _, body := do(t, "GET", bs.URL+"/me", bearer(tok), ""); code != 401 {
		t.Fatalf("replica B with a token revoked on A = %d %s, want 401", code, body)
	}
}

// TestScan runs the scanner from Go code against the bare API and then
// through the chain, over loopback, with two users.
func TestScan(t *testing.T) {
	e := newEnv(t, Options{})
	cs, err := checks.Select("authn,bola,exposure,mass-assignment,misconfig")
	if err != nil {
		t.Fatal(err)
	}
	run := func(base string) *scan.Result {
		ids := []*scan.Identity{
			scan.NewHeaderIdentity("alice", bearer(e.key.token(t, map[string]any{"sub": "1"}))),
			scan.NewHeaderIdentity("bob", bearer(e.key.token(t, map[string]any{"sub": "2"}))),
		}
		target, err := scan.NewTarget(e.spec, base, ids, scan.NewClient(scan.ClientOptions{Budget: 2000}), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Run(context.Background(), target, scan.Options{Checks: cs, WaitForTarget: -1})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	direct, through := run(e.direct.URL), run(e.through.URL)
	ids := func(r *scan.Result) []string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.CheckID+" "+f.Operation+" "+f.Param)
		}
		return out
	}
	t.Logf("direct: %d findings in %d requests: %v", len(direct.Findings), direct.Requests, ids(direct))
	t.Logf("through gatehouse: %d findings in %d requests: %v", len(through.Findings), through.Requests, ids(through))

	has := func(r *scan.Result, check string) bool {
		return slices.ContainsFunc(r.Findings, func(f scan.Finding) bool { return f.CheckID == check })
	}
	for _, c := range []string{"GH2010", "GH2020"} {
		if !has(direct, c) {
			t.Errorf("direct scan did not find %s, which the bare API has on purpose", c)
		}
		if has(through, c) {
			t.Errorf("scan through gatehouse still finds %s", c)
		}
	}
	if n := through.Count(scan.High); n != 0 {
		t.Errorf("through gatehouse: %d high or critical findings, want 0: %v", n, ids(through))
	}
	if len(through.Findings) >= len(direct.Findings) {
		t.Errorf("through gatehouse: %d findings, direct %d: want fewer", len(through.Findings), len(direct.Findings))
	}

	// SARIF for code scanning: one result per finding.
	var buf bytes.Buffer
	if err := (report.SARIF{}).Report(&buf, direct); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(direct.Findings) {
		t.Fatalf("SARIF version %q, %d runs, want 2.1.0 with %d results", log.Version, len(log.Runs), len(direct.Findings))
	}
}

// TestAudit reviews the spec from Go code: the global bearer requirement
// covers every operation, so no operation is reported unauthenticated,
// while the integer user id is.
func TestAudit(t *testing.T) {
	res, err := audit.Run(context.Background(), loadSpec(t), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range res.Findings {
		rules = append(rules, f.RuleID+" "+f.Pointer)
		if f.RuleID == "GH1002" {
			t.Errorf("GH1002 (operation without security) at %s: the spec requires bearer globally", f.Pointer)
		}
	}
	t.Logf("audit score %d: %v", res.Score, rules)
	if res.Score < 50 || res.Score > 100 {
		t.Errorf("score %d, want 50..100 for this small, bounded spec", res.Score)
	}
	var buf bytes.Buffer
	if err := (report.SARIF{}).ReportAudit(&buf, res); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatal("audit SARIF is not JSON")
	}
}

// TestImportsEveryPublicPackage keeps this example honest: it imports every
// public package of the gatehouse module (everything outside internal/,
// cmd/, examples/ and bench/), and none of its dependencies is internal.
func TestImportsEveryPublicPackage(t *testing.T) {
	const module = "github.com/gatehouse/gatehouse"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	list := func(dir string, args ...string) []string {
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v in %s: %v", args, dir, err)
		}
		return strings.Fields(string(out))
	}
	var public []string
	for _, p := range list(root, "./...") {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		if strings.HasPrefix(rel, "internal") || strings.HasPrefix(rel, "cmd") || strings.HasPrefix(rel, "examples") || strings.HasPrefix(rel, "bench") {
			continue
		}
		public = append(public, p)
	}
	imported := list(".", "-test", "-f", `{{join .Imports " "}}`, ".")
	deps := list(".", "-test", "-deps", ".")
	for _, p := range public {
		if !slices.Contains(imported, p) {
			t.Errorf("the library example does not import public package %s", p)
		}
	}
	for _, d := range deps {
		if strings.HasPrefix(d, module+"/internal/") {
			t.Errorf("the library example depends on %s", d)
		}
	}
	if len(public) < 20 {
		t.Fatalf("only %d public packages listed: go list misread", len(public))
	}
}
