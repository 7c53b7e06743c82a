package bookapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
)

// client talks to a Server over real HTTP on loopback.
type client struct {
	t   *testing.T
	srv *Server
	hc  *http.Client
}

func start(t *testing.T, fixed bool) *client {
	t.Helper()
	s, err := Start(Options{Fixed: fixed}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &client{t: t, srv: s, hc: &http.Client{Timeout: 5 * time.Second}}
}

// try sends a request and returns the transport error instead of failing.
func (c *client) try(method, path, token, body string) (int, http.Header, map[string]any, error) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m, nil
}

func (c *client) do(method, path, token, body string) (int, map[string]any) {
	c.t.Helper()
	code, _, m, err := c.try(method, path, token, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, m
}

func (c *client) login(user, pw string) string {
	c.t.Helper()
	code, m := c.do("POST", "/auth/login", "", `{"username":"`+user+`","password":"`+pw+`"}`)
	tok, _ := m["accessToken"].(string)
	if code != 200 || tok == "" {
		c.t.Fatalf("login %s = %d %v", user, code, m)
	}
	return tok
}

func pw(name string) string {
	for _, m := range Members {
		if m.Username == name {
			return m.Password
		}
	}
	return ""
}

func both(t *testing.T, f func(t *testing.T, c *client, fixed bool)) {
	for _, fixed := range []bool{false, true} {
		name := "vulnerable"
		if fixed {
			name = "fixed"
		}
		t.Run(name, func(t *testing.T) { f(t, start(t, fixed), fixed) })
	}
}

func TestBOLARead(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila := c.login("mila", pw("mila"))
		for _, path := range []string{"/users/otto", "/books/moby-dick"} {
			code, m := c.do("GET", path, mila, "")
			leaked := code == 200 && (m["email"] == "otto@bookclub.test" || strings.Contains(m["note"].(string), "otto's private note"))
			if leaked == fixed {
				t.Errorf("mila GET %s = %d %v (fixed=%v)", path, code, m, fixed)
			}
		}
		// The owner reads her own objects in both builds.
		for _, path := range []string{"/users/mila", "/books/the-old-man-and-the-sea"} {
			if code, m := c.do("GET", path, mila, ""); code != 200 {
				t.Errorf("mila GET own %s = %d %v", path, code, m)
			}
		}
	})
}

func TestBOLAWrite(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila, otto := c.login("mila", pw("mila")), c.login("otto", pw("otto"))
		code, _ := c.do("PUT", "/users/otto/email", mila, `{"email":"mila.owns.you@evil.test"}`)
		_, m := c.do("GET", "/users/otto", otto, "")
		changed := m["email"] == "mila.owns.you@evil.test"
		if changed == fixed || (code == 200) == fixed {
			t.Errorf("mila PUT otto's email = %d, otto's email now %v (fixed=%v)", code, m["email"], fixed)
		}
		code, _ = c.do("PUT", "/books/moby-dick", mila, `{"year":1999}`)
		_, m = c.do("GET", "/books/moby-dick", otto, "")
		changed = m["year"] == float64(1999)
		if changed == fixed || (code == 200) == fixed {
			t.Errorf("mila PUT otto's book = %d, year now %v (fixed=%v)", code, m["year"], fixed)
		}
		// Owners change their own objects in both builds.
		if code, m := c.do("PUT", "/users/mila/email", mila, `{"email":"mila.new@bookclub.test"}`); code != 200 {
			t.Errorf("own email change = %d %v", code, m)
		}
		if _, m := c.do("GET", "/users/mila", mila, ""); m["email"] != "mila.new@bookclub.test" {
			t.Errorf("own email after change = %v", m["email"])
		}
	})
}

// BOLA on a credential: mila sets otto's password. On the vulnerable build
// otto's old password stops working and mila's choice logs in as otto; the
// fixed build refuses (403) and otto's password is unchanged. Both builds
// let a member change their own password (the fixed one: 10 characters or
// more).
func TestBOLAPasswordChange(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila := c.login("mila", pw("mila"))
		loginWorks := func(user, pass string) bool {
			code, m := c.do("POST", "/auth/login", "", `{"username":"`+user+`","password":"`+pass+`"}`)
			return code == 200 && m["accessToken"] != nil
		}
		code, m := c.do("PUT", "/users/otto/password", mila, `{"newPassword":"mila-owns-otto-now-1"}`)
		takenOver := loginWorks("otto", "mila-owns-otto-now-1")
		oldWorks := loginWorks("otto", pw("otto"))
		if takenOver == fixed || oldWorks != fixed || (code == 200) == fixed {
			t.Errorf("mila PUT otto's password = %d %v; otto logs in with mila's password: %v, with his old one: %v (fixed=%v)",
				code, m, takenOver, oldWorks, fixed)
		}
		if fixed && code != 403 {
			t.Errorf("fixed build answered %d to another member's password change, want 403", code)
		}
		// Anonymous callers are refused in both builds.
		if code, _ := c.do("PUT", "/users/otto/password", "", `{"newPassword":"anonymous-wins-1"}`); code != 401 || loginWorks("otto", "anonymous-wins-1") {
			t.Errorf("anonymous password change = %d", code)
		}
		// A member changes their own password in both builds.
		if code, m := c.do("PUT", "/users/mila/password", mila, `{"newPassword":"mila-new-password-7"}`); code != 200 {
			t.Fatalf("own password change = %d %v", code, m)
		}
		if !loginWorks("mila", "mila-new-password-7") || loginWorks("mila", pw("mila")) {
			t.Error("own password change had no effect")
		}
		// The fixed build refuses a short one; the vulnerable build takes it.
		code, _ = c.do("PUT", "/users/mila/password", mila, `{"newPassword":"1"}`)
		if (code == 200) == fixed {
			t.Errorf("own password change to \"1\" = %d (fixed=%v)", code, fixed)
		}
		if n := c.srv.API.PasswordCalls(); n != 4 {
			t.Errorf("PasswordCalls = %d, want 4", n)
		}
	})
}

func TestSQLInjectionThroughPath(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		otto := c.login("otto", pw("otto")) // his own book: only the injection differs
		get := func(title string) (int, map[string]any) {
			return c.do("GET", "/books/"+url.PathEscape(title), otto, "")
		}
		trueCode, _ := get("moby-dick' AND '1'='1")
		falseCode, _ := get("moby-dick' AND '1'='2")
		errCode, m := get("moby-dick'")
		msg, _ := m["message"].(string)
		if !fixed {
			if trueCode != 200 || falseCode != 404 || errCode != 500 || !strings.Contains(msg, "SQL") {
				t.Errorf("vulnerable: true=%d false=%d quote=%d %q", trueCode, falseCode, errCode, msg)
			}
			return
		}
		if trueCode != 404 || falseCode != 404 || errCode != 404 || strings.Contains(msg, "SQL") {
			t.Errorf("fixed: true=%d false=%d quote=%d %q", trueCode, falseCode, errCode, msg)
		}
	})
}

func TestSQLInjectionThroughPutBody(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		otto := c.login("otto", pw("otto"))
		code, _ := c.do("PUT", "/books/moby-dick", otto, `{"author":"x', note = 'pwned"}`)
		_, b := c.do("GET", "/books/moby-dick", otto, "")
		if injected := b["note"] == "pwned"; injected == fixed || code != 200 {
			t.Errorf("PUT with injected author = %d, book now %v (fixed=%v)", code, b, fixed)
		}
		if fixed && b["author"] != "x', note = 'pwned" {
			t.Errorf("fixed build did not store the author literally: %v", b["author"])
		}
		code, m := c.do("PUT", "/books/moby-dick", otto, `{"author":"O'Brien"}`)
		msg, _ := m["message"].(string)
		if leak := code == 500 && strings.Contains(msg, "SQL"); leak == fixed {
			t.Errorf("PUT author O'Brien = %d %q (fixed=%v)", code, msg, fixed)
		}
		// The title in the path is bound in both builds.
		if code, _ := c.do("PUT", "/books/"+url.PathEscape("moby-dick' OR '1'='1"), otto, `{"year":1}`); code != 404 {
			t.Errorf("PUT with injected title = %d, want 404", code)
		}
	})
}

func TestMassAssignmentAndWeakPassword(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		code, m := c.do("POST", "/auth/register", "", `{"username":"eve","password":"Eve-long-password-1","email":"eve@evil.test","admin":true}`)
		if code != 200 || m["message"] == nil || len(m) != 1 {
			t.Fatalf("register = %d %v, want 200 with a message only", code, m)
		}
		eve := c.login("eve", "Eve-long-password-1")
		_, p := c.do("GET", "/users/eve", eve, "")
		if admin := p["admin"] == true; admin == fixed {
			t.Errorf("eve registered with admin:true, profile %v (fixed=%v)", p, fixed)
		}
		code, m = c.do("POST", "/auth/register", "", `{"username":"weak","password":"1","email":"weak@bookclub.test"}`)
		if (code == 200) == fixed {
			t.Errorf("register with password \"1\" = %d %v (fixed=%v)", code, m, fixed)
		}
	})
}

func TestLoginEnumerationAndRateLimit(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		c1, unknown := c.do("POST", "/auth/login", "", `{"username":"nobody-here","password":"x"}`)
		c2, wrong := c.do("POST", "/auth/login", "", `{"username":"mila","password":"x"}`)
		if c1 != 200 || c2 != 200 || unknown["accessToken"] != nil || wrong["accessToken"] != nil {
			t.Fatalf("failed logins = %d %v, %d %v: want 200 with a message", c1, unknown, c2, wrong)
		}
		if differ := unknown["message"] != wrong["message"]; differ == fixed {
			t.Errorf("unknown user %q vs wrong password %q (fixed=%v)", unknown["message"], wrong["message"], fixed)
		}
		limited := 0
		for range 20 {
			if code, _ := c.do("POST", "/auth/login", "", `{"username":"mila","password":"guess"}`); code == http.StatusTooManyRequests {
				limited++
			}
		}
		if (limited > 0) != fixed {
			t.Errorf("20 more failed logins: %d answered 429 (fixed=%v)", limited, fixed)
		}
		// The limit is per account: another member still logs in.
		c.login("otto", pw("otto"))
	})
}

func sign(claims map[string]any, secret string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	in := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestTokensWeakSecretNoSub(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		tok := c.login("mila", pw("mila"))
		parts := strings.Split(tok, ".")
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(cb, &claims)
		if claims["username"] != "mila" || claims["sub"] != nil || claims["exp"] == nil || claims["iat"] == nil {
			t.Errorf("claims = %v, want username, iat, exp and no sub", claims)
		}
		forged := sign(map[string]any{"username": "admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}, JWTSecret)
		code, _ := c.do("GET", "/admin/users", forged, "")
		if (code == 200) == fixed {
			t.Errorf("token forged with %q = %d (fixed=%v)", JWTSecret, code, fixed)
		}
		// alg tricks fail in both builds.
		none := strings.Join([]string{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)), parts[1], ""}, ".")
		if code, _ := c.do("GET", "/users/mila", none, ""); code != 401 {
			t.Errorf("alg none token = %d, want 401", code)
		}
		expired := sign(map[string]any{"username": "mila", "iat": 1, "exp": 2}, JWTSecret)
		if code, _ := c.do("GET", "/users/mila", expired, ""); code != 401 {
			t.Errorf("expired token = %d, want 401", code)
		}
	})
}

func TestExposureAndBFLA(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila := c.login("mila", pw("mila"))
		_, m := c.do("GET", "/users", mila, "")
		users, _ := m["users"].([]any)
		hashes := 0
		for _, u := range users {
			if u.(map[string]any)["passwordHash"] == hashPassword(pw("otto")) {
				hashes++
			}
		}
		if len(users) != len(Members) || (hashes == 1) == fixed {
			t.Errorf("GET /users = %v (fixed=%v)", m, fixed)
		}
		code, _ := c.do("GET", "/admin/users", mila, "")
		if (code == 200) == fixed {
			t.Errorf("mila GET /admin/users = %d (fixed=%v)", code, fixed)
		}
		if code, _ := c.do("GET", "/admin/users", c.login("admin", pw("admin")), ""); code != 200 {
			t.Errorf("admin GET /admin/users = %d", code)
		}
	})
}

func TestReDoSEmail(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila := c.login("mila", pw("mila"))
		var steps []int
		for n := 10; n <= 18; n += 2 {
			code, _ := c.do("PUT", "/users/mila/email", mila, `{"email":"`+strings.Repeat("a", n)+`!"}`)
			if code != 400 {
				t.Fatalf("invalid email of %d chars = %d, want 400", n+1, code)
			}
			steps = append(steps, c.srv.API.LastEmailSteps())
		}
		t.Logf("matcher steps for 11..19 characters: %v", steps)
		for i := 1; i < len(steps); i++ {
			// Two more characters: at least 3x the work when backtracking
			// (2^2 in theory), exactly 2 more steps when linear.
			grew := steps[i] >= 3*steps[i-1]
			if grew == fixed {
				t.Errorf("steps by length = %v (fixed=%v)", steps, fixed)
				break
			}
		}
		c.do("PUT", "/users/mila/email", mila, `{"email":"`+strings.Repeat("a", 60)+`!"}`)
		if s := c.srv.API.LastEmailSteps(); s > MaxEmailSteps+1 {
			t.Errorf("60-character address took %d steps, above the cap %d", s, MaxEmailSteps)
		}
		if code, m := c.do("PUT", "/users/mila/email", mila, `{"email":"mila.reads_more-books@mail.bookclub.test"}`); code != 200 {
			t.Errorf("valid email = %d %v", code, m)
		}
	})
}

func TestCrashOnMalformedInput(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		mila := c.login("mila", pw("mila"))
		code, _, _, err := c.try("POST", "/books", mila, `{"bookTitle": [`)
		if fixed {
			if err != nil || code != 400 {
				t.Fatalf("fixed: malformed body = %d, %v; want 400", code, err)
			}
		} else if err == nil {
			t.Fatalf("vulnerable: malformed body answered %d, want no answer", code)
		}
		_, _, _, err = c.try("GET", "/status", "", "")
		if (err != nil) == fixed {
			t.Fatalf("GET /status after the malformed body: err=%v (fixed=%v)", err, fixed)
		}
		if fixed {
			return
		}
		if c.srv.Up() || c.srv.API.Crashes() != 1 {
			t.Errorf("after the crash: up=%v crashes=%d", c.srv.Up(), c.srv.API.Crashes())
		}
		if err := c.srv.Restart(); err != nil {
			t.Fatal(err)
		}
		if code, _ := c.do("GET", "/status", "", ""); code != 200 {
			t.Errorf("after restart GET /status = %d", code)
		}
		// Data survives the restart, like a database behind a process.
		if code, _ := c.do("GET", "/users/mila", mila, ""); code != 200 {
			t.Errorf("after restart the old token = %d", code)
		}
	})
}

func TestCrashAsBareHandler(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		req, _ := http.NewRequest("POST", "/books", strings.NewReader("{"))
		req.Header.Set("Authorization", "Bearer "+a.Token("mila"))
		a.ServeHTTP(httptest.NewRecorder(), req)
	}()
	if !a.down.Load() {
		t.Error("API not down after the crash")
	}
}

func TestResetWipesData(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		c.do("POST", "/auth/register", "", `{"username":"temp","password":"temp-password-123","email":"temp@bookclub.test"}`)
		c.login("temp", "temp-password-123")
		if code, _ := c.do("POST", "/reset", "", ""); code != 200 {
			t.Fatalf("reset = %d", code)
		}
		if code, m := c.do("POST", "/auth/login", "", `{"username":"temp","password":"temp-password-123"}`); m["accessToken"] != nil {
			t.Errorf("registered user survived the reset: %d %v", code, m)
		}
		c.login("mila", pw("mila"))
		if n := c.srv.API.ResetCalls(); n != 1 {
			t.Errorf("ResetCalls = %d, want 1", n)
		}
	})
}

func TestHeaders(t *testing.T) {
	both(t, func(t *testing.T, c *client, fixed bool) {
		_, h, _, err := c.try("GET", "/status", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if (h.Get("X-Powered-By") == "Express") == fixed || (h.Get("X-Content-Type-Options") == "nosniff") != fixed {
			t.Errorf("headers = %v (fixed=%v)", h, fixed)
		}
	})
}

func TestSpecLoads(t *testing.T) {
	spec, err := openapi.LoadBytes(Spec, "bookapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every route of the API is in the spec and vice versa.
	want := []string{"getStatus", "resetDatabase", "registerUser", "loginUser", "listUsers", "getUser", "updateEmail", "changePassword",
		"listBooks", "addBook", "getBook", "updateBook", "exportUsers"}
	got := map[string]bool{}
	for _, op := range spec.Operations {
		got[op.ID] = true
	}
	for _, id := range want {
		if !got[id] {
			t.Errorf("operation %s missing from the spec", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("spec has %d operations, want %d", len(got), len(want))
	}
}
