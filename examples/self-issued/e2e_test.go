package selfissued_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/examples/self-issued/notesapi"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

// secret is the API's 12-byte HS256 secret (shorter than the 32 bytes
// HS256 wants: allow_weak_secret acknowledges it).
const secret = "notes-secret"

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, tok, body string) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (c client) login(user, pass string) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	return c.do("POST", "/login", "", string(b))
}

// TestSelfIssuedExample runs gatehouse with examples/self-issued/gatehouse.yaml
// (as written: its spec, overlay and routes) on a 127.0.0.1 listener in front
// of the notes API on another 127.0.0.1 listener, and checks what the
// example promises: ownership on the API's own tokens, lockout on logins
// that fail with 200, and the overlay's bounds, each refused before the API.
func TestSelfIssuedExample(t *testing.T) {
	t.Setenv("NOTES_JWT_SECRET", secret)
	api := notesapi.New([]byte(secret), nil)
	up := httptest.NewServer(api)
	defer up.Close()
	t.Setenv("NOTES_UPSTREAM", up.URL)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(context.Background(), gateway.ServerOptions{ConfigPath: "gatehouse.yaml",
		PublicListener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	gw := client{t, "http://" + ln.Addr().String()}
	direct := client{t, up.URL}

	// The overlay file and the routes shortcuts were applied at load.
	if got := srv.Pipeline().Overlays().String(); !regexp.MustCompile(`^2 files, 8 actions, \d+ nodes changed$`).MatchString(got) {
		t.Errorf("overlays = %q, want 2 files (overlay.yaml, routes), 8 actions", got)
	}

	// Log in through the gateway: the API's own token, no iss and no sub.
	code, body := gw.login("alice", "alice-pw")
	var lr struct{ Token string }
	if code != 200 || json.Unmarshal([]byte(body), &lr) != nil || lr.Token == "" {
		t.Fatalf("alice login through the gateway = %d %s", code, body)
	}
	alice := lr.Token
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(alice, ".")[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if _, iss := claims["iss"]; iss || claims["sub"] != nil || claims["username"] != "alice" {
		t.Fatalf("token claims %v: the example wants a token without iss and sub", claims)
	}

	t.Run("ownership", func(t *testing.T) {
		// The API alone hands bob's profile to alice.
		if code, body := direct.do("GET", "/users/bob/profile", alice, ""); code != 200 || !strings.Contains(body, "bob@example.com") {
			t.Fatalf("direct GET bob's profile = %d %s; the API was expected to be vulnerable", code, body)
		}
		before := api.Hits("GET /users/{username}/profile")
		if code, body := gw.do("GET", "/users/bob/profile", alice, ""); code != 403 {
			t.Errorf("alice GET bob's profile through gatehouse = %d %s, want 403", code, body)
		}
		if code, body := gw.do("POST", "/users/bob/notes", alice, `{"title":"hi","text":"from alice"}`); code != 403 {
			t.Errorf("alice POST a note as bob = %d %s, want 403", code, body)
		}
		if code, body := gw.do("GET", "/users/Bob/profile", alice, ""); code != 403 {
			t.Errorf("alice GET /users/Bob/profile = %d %s, want 403", code, body)
		}
		if api.Hits("GET /users/{username}/profile") != before {
			t.Error("a refused profile read reached the API")
		}
		code, body := gw.do("GET", "/users/alice/profile", alice, "")
		if code != 200 || !strings.Contains(body, "alice@example.com") {
			t.Fatalf("alice GET her profile = %d %s, want 200", code, body)
		}
		if strings.Contains(body, "recovery_hint") || strings.Contains(body, "first pet") {
			t.Errorf("routes.getProfile.mask: recovery_hint reached the client: %s", body)
		}
	})

	t.Run("forged tokens", func(t *testing.T) {
		parts := strings.Split(alice, ".")
		bobClaims := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"bob"`, 1)))
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		other := notesapi.New([]byte("notes-secreT"), nil).Token("bob")
		for name, tok := range map[string]string{
			"claims swapped to bob": parts[0] + "." + bobClaims + "." + parts[2],
			"alg none":              none + "." + bobClaims + ".",
			"another secret":        other,
		} {
			if code, _ := gw.do("GET", "/users/bob/profile", tok, ""); code != 401 {
				t.Errorf("%s: GET bob's profile = %d, want 401", name, code)
			}
		}
	})

	t.Run("lockout on logins that fail with 200", func(t *testing.T) {
		for i := range 3 {
			code, body := gw.login("carol", "guess")
			if code != 200 || !strings.Contains(body, "bad credentials") {
				t.Fatalf("failed login %d = %d %s, want the API's 200", i, code, body)
			}
		}
		hits := api.Hits("POST /login")
		if code, body := gw.login("carol", "carol-pw"); code != 429 {
			t.Fatalf("carol's right password after 3 failures = %d %s, want 429 (locked)", code, body)
		}
		if code, _ := gw.login("Carol", "carol-pw"); code != 400 && code != 429 {
			t.Fatalf("locked account in other case = %d, want refused", code)
		}
		if api.Hits("POST /login") != hits {
			t.Error("a locked login reached the API")
		}
		if code, body := gw.login("bob", "bob-pw"); code != 200 || !strings.Contains(body, "token") {
			t.Errorf("bob is not locked: %d %s", code, body)
		}
	})

	t.Run("overlay constraints", func(t *testing.T) {
		long := strings.Repeat("t", 65)
		for name, body := range map[string]string{
			"title over maxLength 64":      `{"title":"` + long + `","text":"x"}`,
			"title escaped over 64":        `{"title":"` + strings.Repeat(`\u0074`, 65) + `","text":"x"}`,
			"text over maxLength 2000":     `{"title":"t","text":"` + strings.Repeat("x", 2001) + `"}`,
			"undeclared field (owner)":     `{"title":"t","text":"x","owner":"bob"}`,
			"duplicate title, second long": `{"title":"t","title":"` + long + `","text":"x"}`,
		} {
			code, resp := gw.do("POST", "/users/alice/notes", alice, body)
			// A duplicate key is refused before validation (ambiguous body).
			if code != 400 && !(strings.HasPrefix(name, "duplicate") && code == 403) {
				t.Errorf("%s: %d %s, want 400", name, code, resp)
			}
		}
		if code, _ := gw.login(strings.Repeat("a", 33), "x"); code != 400 {
			t.Errorf("login username over maxLength 32: %d, want 400", code)
		}
		if n := len(api.Notes()); n != 0 {
			t.Fatalf("%d refused notes reached the API", n)
		}
		ok := strings.Repeat("t", 64)
		if code, resp := gw.do("POST", "/users/alice/notes", alice, `{"title":"`+ok+`","text":"x"}`); code != 201 {
			t.Fatalf("a 64-character title = %d %s, want 201", code, resp)
		}
		if notes := api.Notes(); len(notes) != 1 || notes[0].Title != ok || notes[0].Owner != "alice" {
			t.Fatalf("API stored %+v, want the one valid note", notes)
		}
	})

	t.Run("denied operation", func(t *testing.T) {
		if code, _ := direct.do("GET", "/admin/export", alice, ""); code != 200 {
			t.Fatalf("direct GET /admin/export = %d; the API was expected to expose it", code)
		}
		before := api.Hits("GET /admin/export")
		if code, body := gw.do("GET", "/admin/export", alice, ""); code != 404 {
			t.Errorf("GET /admin/export through gatehouse = %d %s, want 404", code, body)
		}
		if api.Hits("GET /admin/export") != before {
			t.Error("the denied export reached the API")
		}
	})
}
