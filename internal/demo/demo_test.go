package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// planted lists every blunder the vulnerable API commits, as the scanner
// check and operation that must find it when the API is scanned directly.
var planted = []struct{ check, op, what string }{
	{"GH2010", "getUser", "BOLA: a user reads another user's record"},
	{"GH2010", "updateUser", "BOLA: a user modifies another user's record"},
	{"GH2010", "getNote", "BOLA: a user reads another user's note"},
	{"GH2050", "searchUsers", "SQL injection (error-based)"},
	{"GH2051", "searchUsers", "SQL injection (boolean-based)"},
	{"GH2003", "", "HS256 tokens signed with a weak secret"},
	{"GH2004", "", "tokens without expiry"},
	{"GH2005", "", "token still valid after logout"},
	{"GH2030", "login", "no rate limit on login"},
	{"GH2031", "login", "user enumeration on login"},
	{"GH2032", "listUsers", "no rate limit on reads"},
	{"GH2020", "listUsers", "password hashes in the user list"},
	{"GH2022", "register", "mass assignment of role on registration"},
	{"GH2040", "getUser", "stack trace / error text on bad input"},
	{"GH2011", "adminStats", "admin endpoint open to any user"},
	{"GH2011", "setUserRole", "admin mutation open to any user"},
}

// knownThrough lists high/critical findings the gateway cannot stop yet, with
// why. The test fails if one of them disappears (update the list and the
// README) or if any other high/critical finding appears.
var knownThrough = map[string]string{}

func find(r *scan.Result, check, op string) bool {
	for _, f := range r.Findings {
		if f.CheckID == check && (op == "" || f.Operation == op) {
			return true
		}
	}
	return false
}

func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Options{Out: &out, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	defer res.Env.Close()
	PrintTable(&out, res)
	t.Logf("demo output:\n%s", out.String())

	for _, p := range planted {
		if !find(res.Direct, p.check, p.op) {
			t.Errorf("direct scan missed planted blunder %q (%s on %q)", p.what, p.check, p.op)
		}
	}
	// Misconfiguration (headers, CORS, version disclosure) must be found directly.
	misconfig := 0
	for _, f := range res.Direct.Findings {
		if f.OWASP == scan.API8Misconfig && f.CheckID != "GH2040" {
			misconfig++
		}
	}
	if misconfig == 0 {
		t.Error("direct scan found no misconfiguration (headers, CORS, Server version)")
	}

	// The gateway's limits cover reads and advertise themselves on every
	// allowed answer (RateLimit headers): the read burst finds nothing.
	if find(res.Protected, "GH2032", "") {
		t.Error("through gatehouse: GH2032 found no rate limit on reads; the demo config limits every operation")
	}
	for _, c := range res.Protected.Checks {
		if c.Meta.ID == "GH2032" && c.Status != scan.CoverTested {
			t.Errorf("through gatehouse: GH2032 %s (%s): the read limit must be tested, not pass by default", c.Status, c.Reason)
		}
	}
	// The one thing only the API can fix: its concatenated SQL breaks on a
	// quote, and the client gets the gateway's generic 500. The probe meets
	// the per-user rate limit first; the scan must wait and resend it, not
	// count the 429 as tested (it did until 2026-12-07).
	if !find(res.Protected, "GH2040", "searchUsers") {
		t.Error("through gatehouse: GH2040 on searchUsers (a quote breaks the API's SQL; generic 500) not found: a throttled probe counted as tested?")
	}
	seen := map[string]bool{}
	for _, f := range res.Protected.Findings {
		if f.Severity < scan.High {
			continue
		}
		key := f.CheckID + " " + f.Operation
		seen[key] = true
		if why, ok := knownThrough[key]; ok {
			t.Logf("known gap through gatehouse: %s (%s)", key, why)
			continue
		}
		t.Errorf("through gatehouse: %s finding %s on %q: %s", f.Severity, f.CheckID, f.Operation, f.Detail)
	}
	for key := range knownThrough {
		if !seen[key] {
			t.Errorf("known gap %q is no longer found through gatehouse: remove it from knownThrough and the README", key)
		}
	}
	if len(res.Rows) == 0 {
		t.Fatal("empty comparison table")
	}
}

// TestProtectedAPIStillWorks runs legitimate client traffic through the
// gateway on a fresh setup (the scan above drains rate-limit buckets).
func TestProtectedAPIStillWorks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	legit(t, env)
}

// legit drives the API through the gateway the way its clients do, and
// checks that protection did not break it.
func legit(t *testing.T, env *Env) {
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, env.GatewayURL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alice, admin := env.Tokens["alice"], env.Tokens["admin"]
	steps := []struct {
		method, path, token, body string
		want                      int
		contains, absent          string
	}{
		{"GET", "/health", "", "", 200, `"ok"`, ""},
		{"POST", "/register", "", `{"username":"carol","password":"carol-password","email":"carol@example.com"}`, 201, `"carol"`, "password_hash"},
		{"GET", "/users/2", alice, "", 200, `"alice"`, "password_hash"},
		{"PATCH", "/users/2", alice, `{"email":"alice@example.org"}`, 200, "alice@example.org", ""},
		{"GET", "/users", alice, "", 200, `"bob"`, "password_hash"},
		{"GET", "/users/search?name=ali", alice, "", 200, `"alice"`, ""},
		// A benign apostrophe is not taken for an attack and reaches the API; the
		// vulnerable API's concatenated SQL still breaks on it, and the gateway
		// hides the SQL error text behind a generic 500 (a bug only the API can fix).
		{"GET", "/users/search?name=O'Brien", alice, "", 500, "request_id", "SQL"},
		{"POST", "/notes", alice, `{"text":"buy milk"}`, 201, "buy milk", ""},
		{"GET", "/admin/stats", admin, "", 200, `"users"`, ""},
		{"GET", "/users/3", admin, "", 200, `"bob"`, ""},
		{"PUT", "/admin/users/3/role", admin, `{"role":"user"}`, 200, `"bob"`, ""},
		// The protections themselves, as a client sees them.
		{"GET", "/users/3", alice, "", 403, "request_id", ""},
		{"GET", "/admin/stats", alice, "", 403, "", ""},
		// Not an integer: refused before the API sees it (authz runs before
		// validation, so the ownership rule answers first).
		{"GET", "/users/abc", alice, "", 403, "", "goroutine"},
		{"POST", "/register", "", `{"username":"mallory","password":"mallory-pw1","email":"m@example.com","role":"admin"}`, 400, "", ""},
		{"GET", "/users/search?name=" + "x%27%20UNION%20SELECT%20username%2C%20password_hash%20FROM%20users--", alice, "", 400, "", ""},
		{"GET", "/nope", alice, "", 404, "", ""},
	}
	for _, s := range steps {
		code, body := do(s.method, s.path, s.token, s.body)
		if code != s.want || !strings.Contains(body, s.contains) || (s.absent != "" && strings.Contains(body, s.absent)) {
			t.Errorf("%s %s = %d %s, want %d containing %q without %q", s.method, s.path, code, body, s.want, s.contains, s.absent)
		}
	}
	// Logout through the gateway revokes the token on the gateway.
	bob := env.Tokens["bob"]
	if code, body := do("POST", "/logout", bob, ""); code != 204 {
		t.Fatalf("logout = %d %s", code, body)
	}
	if code, _ := do("GET", "/users/3", bob, ""); code != 401 {
		t.Errorf("token after logout = %d, want 401", code)
	}
	// The upstream's own weak tokens are not accepted by the gateway.
	code, body := do("POST", "/login", "", `{"username":"alice","password":"alice-pw"}`)
	if code != 200 {
		t.Errorf("login through gatehouse = %d %s", code, body)
	}
	var lr map[string]any
	_ = json.Unmarshal([]byte(body), &lr)
	if tok, _ := lr["token"].(string); tok != "" {
		if code, _ := do("GET", "/users/2", tok, ""); code != 401 {
			t.Errorf("upstream-minted weak token through gatehouse = %d, want 401", code)
		}
	}
}
