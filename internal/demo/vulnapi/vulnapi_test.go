package vulnapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type client struct {
	t   *testing.T
	srv *httptest.Server
}

func start(t *testing.T, fixed bool) (*client, *API) {
	t.Helper()
	a, err := New(Options{Fixed: fixed})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &client{t, srv}, a
}

func (c *client) do(method, path, token, body string, hdr ...string) (int, http.Header, string) {
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
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (c *client) login(user, pw string) string {
	c.t.Helper()
	code, _, body := c.do("POST", "/login", "", `{"username":"`+user+`","password":"`+pw+`"}`)
	if code != 200 {
		c.t.Fatalf("login %s = %d %s", user, code, body)
	}
	var out struct{ Token string }
	_ = json.Unmarshal([]byte(body), &out)
	return out.Token
}

// TestBlunders proves each planted blunder is real in the vulnerable build
// and gone in the fixed one.
func TestBlunders(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		name := map[bool]string{false: "vulnerable", true: "fixed"}[fixed]
		t.Run(name, func(t *testing.T) {
			c, _ := start(t, fixed)
			alice := c.login("alice", "alice-pw")
			want := func(cond bool, what string) {
				t.Helper()
				if cond != !fixed {
					t.Errorf("%s: blunder present = %v, want %v", what, cond, !fixed)
				}
			}

			code, _, body := c.do("GET", "/users/3", alice, "")
			want(code == 200 && strings.Contains(body, `"bob"`), "BOLA: alice reads bob")
			want(strings.Contains(body, "password_hash"), "data exposure in getUser")

			code, _, body = c.do("GET", "/users/search?name="+url.QueryEscape("zzz' UNION SELECT username, password_hash FROM users--"), alice, "")
			want(code == 200 && strings.Contains(body, hashPassword("admin-pw")), "SQL injection dumps hashes")

			code, _, body = c.do("GET", "/users/search?name="+url.QueryEscape("'"), alice, "")
			want(code == 500 && (strings.Contains(body, "SQL") || strings.Contains(body, "syntax")), "SQL error text leaks")

			code, _, body = c.do("GET", "/users/abc", alice, "")
			want(code == 500 && strings.Contains(body, "goroutine"), "stack trace on bad input")

			_, _, b1 := c.do("POST", "/login", "", `{"username":"nobody","password":"x"}`)
			_, _, b2 := c.do("POST", "/login", "", `{"username":"alice","password":"wrong"}`)
			want(b1 != b2, "user enumeration on login")

			code, _, body = c.do("POST", "/register", "", `{"username":"mallory","password":"mallory-pw","email":"m@example.com","role":"admin"}`)
			want(code == 201 && strings.Contains(body, `"role":"admin"`), "mass assignment of role")

			code, _, _ = c.do("GET", "/admin/stats", alice, "")
			want(code == 200, "BFLA: user calls admin endpoint")

			_, _, body = c.do("GET", "/users", alice, "")
			want(strings.Contains(body, "password_hash"), "list exposes password hashes")

			_, hdr, _ := c.do("GET", "/health", "", "", "Origin", "https://evil.example")
			want(hdr.Get("Access-Control-Allow-Origin") == "https://evil.example", "CORS reflects any origin")
			want(strings.Contains(hdr.Get("Server"), "vulnapi/"), "Server header reveals version")
			want(hdr.Get("X-Content-Type-Options") == "", "no security headers")

			code, _, _ = c.do("POST", "/logout", alice, "")
			if code != 204 {
				t.Fatalf("logout = %d", code)
			}
			code, _, _ = c.do("GET", "/users/2", alice, "")
			want(code == 200, "token valid after logout")

			if !fixed {
				parts := strings.Split(alice, ".")
				claims, _ := b64.DecodeString(parts[1])
				if strings.Contains(string(claims), `"exp"`) {
					t.Errorf("vulnerable token has exp: %s", claims)
				}
			}
		})
	}
}

func TestLoginRateLimitFixed(t *testing.T) {
	c, _ := start(t, true)
	limited := false
	for range 10 {
		code, _, _ := c.do("POST", "/login", "", `{"username":"alice","password":"wrong"}`)
		if code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("fixed build never answered 429 to 10 failed logins")
	}
}

func TestReadRateLimit(t *testing.T) {
	t.Run("vulnerable has none", func(t *testing.T) {
		c, _ := start(t, false)
		for range 50 {
			code, h, _ := c.do("GET", "/health", "", "")
			if code != 200 || h.Get("RateLimit") != "" || h.Get("RateLimit-Policy") != "" {
				t.Fatalf("vulnerable read = %d with RateLimit %q", code, h.Get("RateLimit"))
			}
		}
	})
	t.Run("fixed advertises and enforces it", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		a, err := New(Options{Fixed: true, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		srv := httptest.NewServer(a)
		defer srv.Close()
		c := &client{t, srv}
		for i := 1; i <= ReadLimit; i++ {
			code, h, _ := c.do("GET", "/health", "", "")
			want := fmt.Sprintf(`"reads";r=%d;t=60`, ReadLimit-i)
			if code != 200 || h.Get("RateLimit") != want || h.Get("RateLimit-Policy") != `"reads";q=1000;w=60` {
				t.Fatalf("read %d = %d, RateLimit %q (want %q), policy %q", i, code, h.Get("RateLimit"), want, h.Get("RateLimit-Policy"))
			}
		}
		code, h, body := c.do("GET", "/health", "", "")
		if code != 429 || h.Get("Retry-After") != "60" || strings.Contains(body, "goroutine") {
			t.Errorf("read over the limit = %d, Retry-After %q: %s", code, h.Get("Retry-After"), body)
		}
		if code, _, _ := c.do("POST", "/login", "", `{"username":"alice","password":"alice-pw"}`); code != 200 {
			t.Errorf("the read limit must not count writes: login = %d", code)
		}
		now = now.Add(ReadWindow)
		if code, h, _ := c.do("GET", "/health", "", ""); code != 200 || h.Get("RateLimit") != `"reads";r=999;t=60` {
			t.Errorf("read in the next window = %d, RateLimit %q", code, h.Get("RateLimit"))
		}
	})
}

func TestGatewayHeaders(t *testing.T) {
	a, err := New(Options{Fixed: true, TrustGatewayHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := &client{t, srv}
	code, _, _ := c.do("GET", "/users/2", "", "", "X-Gatehouse-Subject", "2")
	if code != 200 {
		t.Errorf("own user via gateway headers = %d, want 200", code)
	}
	code, _, _ = c.do("GET", "/users/3", "", "", "X-Gatehouse-Subject", "2")
	if code != 403 {
		t.Errorf("other user via gateway headers = %d, want 403", code)
	}
}
