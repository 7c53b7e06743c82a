package dynamic_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// sessionAPI is a cookie-session API over real HTTP: login (JSON, or a
// form with Form) sets an opaque session cookie; every state-changing
// request needs the CSRF token echoed in X-CSRF-Token, the token coming in
// a csrf_token cookie (or, with BodyCSRF, only in the login's answer). No
// bearer tokens at all.
type sessionAPI struct {
	BOLA, Form, BodyCSRF bool

	mu       sync.Mutex
	sessions map[string][2]string // sid → user, csrf
	notes    map[int]*deepNote
	csrfFail int // state-changing requests refused for a missing or wrong CSRF token
}

func newSessionAPI() *sessionAPI {
	return &sessionAPI{sessions: map[string][2]string{}, notes: map[int]*deepNote{1: {owner: "alice", text: "alice's diary"}, 2: {owner: "bob", text: "bob's diary"}}}
}

func rnd() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *sessionAPI) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *sessionAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "POST" && r.URL.Path == "/login" {
		var user, pass string
		if a.Form {
			if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
				a.send(w, 415, map[string]any{"error": "form expected"})
				return
			}
			user, pass = r.PostForm.Get("username"), r.PostForm.Get("password")
		} else {
			var in struct{ Username, Password string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			user, pass = in.Username, in.Password
		}
		if (user != "alice" && user != "bob") || pass != user+"-pw" {
			a.send(w, 401, map[string]any{"error": "invalid credentials"})
			return
		}
		sid, csrf := rnd(), rnd()
		a.mu.Lock()
		a.sessions[sid] = [2]string{user, csrf}
		a.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		if a.BodyCSRF {
			a.send(w, 200, map[string]any{"message": "welcome", "csrfToken": csrf})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "csrf_token", Value: csrf, Path: "/", Secure: true, SameSite: http.SameSiteStrictMode})
		a.send(w, 200, map[string]any{"message": "welcome"})
		return
	}
	c, err := r.Cookie("sid")
	a.mu.Lock()
	var s [2]string
	ok := false
	if err == nil {
		s, ok = a.sessions[c.Value]
	}
	a.mu.Unlock()
	if !ok {
		a.send(w, 401, map[string]any{"error": "login required"})
		return
	}
	user := s[0]
	if r.Method != "GET" && r.Header.Get("X-CSRF-Token") != s[1] {
		a.mu.Lock()
		a.csrfFail++
		a.mu.Unlock()
		a.send(w, 403, map[string]any{"error": "csrf token mismatch"})
		return
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "POST" && r.URL.Path == "/notes":
		var in struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		a.mu.Lock()
		id := len(a.notes) + 10
		a.notes[id] = &deepNote{owner: user, text: in.Text}
		a.mu.Unlock()
		a.send(w, 201, map[string]any{"id": id, "owner": user, "text": in.Text})
	case len(seg) == 2 && seg[0] == "notes" && (r.Method == "GET" || r.Method == "PUT"):
		id, _ := strconv.Atoi(seg[1])
		a.mu.Lock()
		defer a.mu.Unlock()
		n := a.notes[id]
		if n == nil || (!a.BOLA && n.owner != user) {
			a.send(w, 404, map[string]any{"error": "not found"})
			return
		}
		if r.Method == "PUT" {
			var in struct{ Text string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			n.text = in.Text
		}
		a.send(w, 200, map[string]any{"id": id, "owner": n.owner, "text": n.text})
	default:
		a.send(w, 404, map[string]any{"error": "not found"})
	}
}

const sessionSpec = `openapi: 3.1.0
info: { title: sessions, version: "1" }
security:
  - session: []
paths:
  /login:
    post:
      operationId: login
      security: []
      requestBody:
        required: true
        content:
          %s:
            schema:
              type: object
              properties:
                username: { type: string }
                password: { type: string }
      responses:
        "200": { description: ok }
  /notes:
    post:
      operationId: createNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: { type: string }
      responses:
        "201": { description: created }
  /notes/{note_id}:
    parameters:
      - { name: note_id, in: path, required: true, schema: { type: integer } }
    get:
      operationId: getNote
      responses:
        "200": { description: ok }
    put:
      operationId: updateNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                text: { type: string }
      responses:
        "200": { description: ok }
components:
  securitySchemes:
    session: { type: apiKey, in: cookie, name: sid }
`

// Two cookie-session identities scan a cookie API like token ones: BOLA on
// read and write is found on the vulnerable variant (the write needs the
// CSRF token echoed), and nothing on the correct one; JSON and form logins,
// the token in a cookie or in the login's answer.
func TestCookieSessionIdentities(t *testing.T) {
	for _, variant := range []struct {
		name           string
		form, bodyCSRF bool
	}{{"json login, csrf cookie", false, false}, {"form login, csrf cookie", true, false}, {"json login, csrf in the answer", false, true}} {
		t.Run(variant.name, func(t *testing.T) {
			for _, vuln := range []bool{true, false} {
				api := newSessionAPI()
				api.BOLA, api.Form, api.BodyCSRF = vuln, variant.form, variant.bodyCSRF
				srv := httptest.NewServer(api)
				ct := "application/json"
				if variant.form {
					ct = "application/x-www-form-urlencoded"
				}
				spec, err := openapi.LoadBytes([]byte(strings.Replace(sessionSpec, "%s", ct, 1)), "sessions.yaml")
				if err != nil {
					t.Fatal(err)
				}
				var ids []*scan.Identity
				for _, u := range []string{"alice", "bob"} {
					id, err := scan.ParseIdentity(u + "=cookie:login:username=" + u + ",password=" + u + "-pw")
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, id)
				}
				tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 500}), nil)
				if err != nil {
					t.Fatal(err)
				}
				res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.BOLA{}}})
				srv.Close()
				if err != nil {
					t.Fatal(err)
				}
				got := findingKeys(res.Findings)
				if vuln && (!got["getNote|note_id"] || !got["updateNote|note_id"]) {
					t.Errorf("BOLA with two cookie identities: got %v, want getNote and updateNote", keys(got))
				}
				if !vuln && len(res.Findings) != 0 {
					t.Errorf("false positive on the correct API: %v", keys(got))
				}
				if api.csrfFail != 0 {
					t.Errorf("%d state-changing requests went without the CSRF token", api.csrfFail)
				}
				if tg.Identity("alice").Token() != "" {
					t.Errorf("a cookie identity holds a bearer token")
				}
			}
		})
	}
}
