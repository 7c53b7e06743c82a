package scan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		in, name, header, loginOp string
		fields                    map[string]string
		privileged, bad           bool
	}{
		{in: "alice=header:Authorization: Bearer abc.def.ghi", name: "alice", header: "Bearer abc.def.ghi"},
		{in: "bob=bearer:tok", name: "bob", header: "Bearer tok"},
		{in: "admin=login:login:username=admin,password=a=b", name: "admin", loginOp: "login", fields: map[string]string{"username": "admin", "password": "a=b"}, privileged: true},
		{in: "noequals", bad: true},
		{in: "=bearer:x", bad: true},
		{in: "x=header:nocolon", bad: true},
		{in: "x=session:a", bad: true},
		{in: "x=cookie::a=b", bad: true},
		{in: "x=cookie:op:novalue", bad: true},
		{in: "carol=cookie:login:username=carol,password=pw", name: "carol", loginOp: "login", fields: map[string]string{"username": "carol", "password": "pw"}},
		{in: "x=login::a=b", bad: true},
		{in: "x=login:op:novalue", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, err := scan.ParseIdentity(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseIdentity(%q) = nil error, want one", tt.in)
				}
				if strings.Contains(err.Error(), "password") {
					t.Errorf("error leaks the argument: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			id.Apply(h)
			if id.Name != tt.name || h.Get("Authorization") != tt.header || id.LoginOp != tt.loginOp || id.Privileged != tt.privileged ||
				id.Session != strings.Contains(tt.in, "=cookie:") {
				t.Errorf("ParseIdentity(%q) = %+v (Authorization %q)", tt.in, id, h.Get("Authorization"))
			}
			for k, v := range tt.fields {
				if id.LoginFields[k] != v {
					t.Errorf("field %s = %q, want %q", k, id.LoginFields[k], v)
				}
			}
		})
	}
}

func TestEvidenceAndCurlRedactCredentials(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
	r := &scan.Request{Method: "POST", URL: "http://x/login", Identity: "alice",
		Header: http.Header{"Authorization": {"Bearer " + jwt}, "Cookie": {"session=s3cret"}, "X-Api-Key": {"k3y"}},
		Body:   []byte(`{"token":"abcdefgh","jwt":"` + jwt + `"}`)}
	ex := &scan.Exchange{Request: r, Status: 200, Header: http.Header{"Set-Cookie": {"session=s3cret"}}, Body: []byte(`{"access_token":"zzzzzzzz","x":"` + jwt + `"}`)}
	ev := ex.Evidence("n")
	curl := r.Curl()
	for _, s := range []string{ev.Request, ev.Response, curl} {
		for _, secret := range []string{"c2lnbmF0dXJl", "s3cret", "k3y", "abcdefgh", "zzzzzzzz"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
	if !strings.Contains(curl, `"Authorization: Bearer $TOKEN_ALICE"`) {
		t.Errorf("curl = %s", curl)
	}
	if !strings.Contains(ev.Request, "Authorization: Bearer <redacted>") {
		t.Errorf("evidence = %s", ev.Request)
	}
}

func TestClientBudgetAndSafeMode(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := scan.NewClient(scan.ClientOptions{Budget: 3, Safe: true, AllowMethods: []string{"PATCH"}})
	ctx := context.Background()
	for _, m := range []string{"DELETE", "PUT"} {
		if _, err := c.Do(ctx, &scan.Request{Method: m, URL: srv.URL}); !errors.Is(err, scan.ErrUnsafe) {
			t.Errorf("Do(%s) in safe mode = %v, want ErrUnsafe", m, err)
		}
	}
	for i, m := range []string{"GET", "PATCH", "POST"} {
		if _, err := c.Do(ctx, &scan.Request{Method: m, URL: srv.URL}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, err := c.Do(ctx, &scan.Request{Method: "GET", URL: srv.URL}); !errors.Is(err, scan.ErrBudget) {
		t.Errorf("4th request = %v, want ErrBudget", err)
	}
	if hits.Load() != 3 || c.Used() != 3 {
		t.Errorf("server saw %d requests, client counted %d; want 3", hits.Load(), c.Used())
	}
}

func TestFingerprintStable(t *testing.T) {
	a := scan.Finding{CheckID: "GH2010", Method: "GET", Path: "/users/{id}", Param: "id", Detail: "run 1", Evidence: []scan.Evidence{{Request: "x"}}}
	b := a
	b.Detail, b.Evidence = "run 2 on another host", nil
	if a.ComputeFingerprint() != b.ComputeFingerprint() {
		t.Error("fingerprint depends on detail or evidence")
	}
	b.Param = "other"
	if a.ComputeFingerprint() == b.ComputeFingerprint() {
		t.Error("fingerprint ignores the parameter")
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		a, b     string
		min, max float64
	}{
		{`{"id":1,"name":"a"}`, `{"name":"a", "id":1}`, 1, 1},
		{`{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`, 0, 0.01},
		{`[]`, `[{"id":1}]`, 0, 0.01},
		{"", "", 1, 1},
		{"hello world", "hello world", 1, 1},
	}
	for _, tt := range tests {
		if got := scan.Similarity([]byte(tt.a), []byte(tt.b)); got < tt.min || got > tt.max {
			t.Errorf("Similarity(%s, %s) = %v, want in [%v, %v]", tt.a, tt.b, got, tt.min, tt.max)
		}
	}
}

func TestParamKey(t *testing.T) {
	tests := []struct{ tmpl, name, want string }{
		{"/users/{user_id}", "user_id", "user"},
		{"/users/{userId}", "userId", "user"},
		{"/notes/{id}", "id", "note"},
		{"/categories/{id}", "id", "category"},
		{"/v1/orders/{order-id}/items", "order-id", "order"},
	}
	for _, tt := range tests {
		if got := scan.ParamKey(tt.tmpl, tt.name); got != tt.want {
			t.Errorf("ParamKey(%q, %q) = %q, want %q", tt.tmpl, tt.name, got, tt.want)
		}
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{"alice=header:Authorization: Bearer x", "b=login:op:u=a,p=b", "c=bearer:t", "=", "x=login:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := scan.ParseIdentity(s)
		if err == nil && id.Name == "" {
			t.Errorf("ParseIdentity(%q) accepted an empty name", s)
		}
	})
}

func FuzzParseJWT(f *testing.F) {
	for _, s := range []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "a.b.c", "...", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if j, ok := scan.ParseJWT(s); ok && (j.Header == nil || j.Claims == nil) {
			t.Errorf("ParseJWT(%q) ok with nil parts", s)
		}
	})
}

func TestLoginTokenRefreshedBeforeExpiry(t *testing.T) {
	var logins atomic.Int64
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			n := logins.Add(1)
			tok := scan.B64(map[string]any{"alg": "HS256"}) + "." + scan.B64(map[string]any{"sub": "1", "exp": exp, "n": n}) + ".c2ln"
			fmt.Fprintf(w, `{"token":%q}`, tok)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	spec, err := openapi.LoadBytes([]byte(`openapi: 3.1.0
info: { title: t, version: "1" }
paths:
  /login:
    post:
      operationId: login
      requestBody: { content: { application/json: { schema: { type: object } } } }
      responses: { "200": { description: ok } }
  /me:
    get:
      operationId: me
      responses: { "200": { description: ok } }
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	id := scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice"})
	tg, _ := scan.NewTarget(spec, srv.URL, []*scan.Identity{id}, nil, nil)
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	tg.Now = func() time.Time { return now }
	ctx := context.Background()
	if err := tg.Login(ctx, id); err != nil {
		t.Fatal(err)
	}
	me := tg.Operation("me")
	if _, err := tg.Send(ctx, tg.Prepare(me, id), id); err != nil || logins.Load() != 1 {
		t.Fatalf("valid token: err %v, %d logins, want 1", err, logins.Load())
	}
	now = time.Unix(exp, 0).Add(-5 * time.Second) // about to expire
	if _, err := tg.Send(ctx, tg.Prepare(me, id), id); err != nil || logins.Load() != 2 {
		t.Errorf("expiring token: err %v, %d logins, want 2", err, logins.Load())
	}
}

// Tokens without sub still name their holder; times, roles and the token
// ID never do.
func TestClaimValues(t *testing.T) {
	j := &scan.JWT{Claims: map[string]any{"username": "alice", "uid": "u-1", "account_id": float64(42), "role": "admin",
		"exp": float64(4102444800), "iat": float64(1), "jti": "abc", "scope": "read"}}
	got := scan.ClaimValues(j)
	want := map[string]bool{"alice": true, "u-1": true, "42": true}
	if len(got) != len(want) {
		t.Fatalf("ClaimValues = %v, want %v", got, want)
	}
	for _, v := range got {
		if !want[v] {
			t.Errorf("ClaimValues = %v: unexpected %q", got, v)
		}
	}
	id := scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "pw", "otp": "123456"})
	if !id.IsSelf("alice") || id.IsSelf("pw") || id.IsSelf("123456") {
		t.Errorf("login identity's own values = %v, want the username only", id.Self())
	}
}

// TestApplyJoinsCookies: an identity's cookies join the cookies a probe
// already set (a cookie parameter) in one Cookie header instead of
// replacing them; its other credentials replace what the probe set.
func TestApplyJoinsCookies(t *testing.T) {
	id := scan.NewHeaderIdentity("alice", http.Header{"Cookie": {"sid=s-alice"}, "Authorization": {"Bearer a"}})
	h := http.Header{"Cookie": {"region=eu' OR 1=1"}, "Authorization": {"Bearer forged"}}
	id.Apply(h)
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != "region=eu' OR 1=1; sid=s-alice" {
		t.Errorf("Cookie = %q, want the probe's cookie and the identity's in one header", got)
	}
	if got := h.Get("Authorization"); got != "Bearer a" {
		t.Errorf("Authorization = %q, want the identity's", got)
	}
	h = http.Header{}
	id.Apply(h)
	if got := h.Get("Cookie"); got != "sid=s-alice" {
		t.Errorf("no probe cookie: Cookie = %q", got)
	}
}
