package dynamic_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// credSpec is the contract of credAPI: a JSON login, a protected list and
// a public health probe.
const credSpec = `
openapi: 3.0.3
info: { title: creds, version: "1" }
security:
  - bearer: []
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
paths:
  /login:
    post:
      operationId: login
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: { type: string }
                password: { type: string }
      responses:
        "200": { description: a token }
        "401": { description: bad credentials }
  /items:
    get:
      operationId: listItems
      responses:
        "200": { description: the caller's items }
        "401": { description: no or bad token }
  /health:
    get:
      operationId: health
      security: []
      responses:
        "200": { description: up }
`

// credAPI is a small token API whose credential handling the tests choose;
// its zero value (plus users) is correct: failed logins answer 401, tokens
// are random, only the Authorization header carries them, no cookies.
type credAPI struct {
	users map[string]string // username → password
	// FailStatus answers failed logins (0 = 401; 200 = a message).
	FailStatus int
	// TokenToAll: every login, failed or not, gets a token.
	TokenToAll bool
	// LimitAfter answers 429 once that many logins failed (0 = never).
	LimitAfter int
	// QueryToken: protected operations also read the token from this query
	// parameter ("" = only the header).
	QueryToken string
	// QueryAny: any non-empty value of QueryToken lets the caller in (the
	// parameter, not the credential, opens the door).
	QueryAny bool
	// QueryLogin: the login reads username and password from the query
	// string when the body has none.
	QueryLogin bool
	// Cookie is the Set-Cookie line of a successful login, %s is the
	// session id ("" = none); CookieOnly leaves the token out of the body
	// (a cookie-session API) for every account but mila, the scan's own,
	// which needs a token to log in.
	Cookie     string
	CookieOnly bool
	// AnyCookie is a Set-Cookie line sent on every answer of /health.
	AnyCookie string
	// MaxLogins answers 429 to successful logins past that many (0 = no
	// limit).
	MaxLogins int
	// Token makes the token of the n-th successful login (0-based) of user;
	// nil = random.
	Token func(n int, user string) string

	mu       sync.Mutex
	issued   map[string]string // token → user
	attempts map[string]int    // login attempts per username
	failed   int
	logins   int
}

func newCredAPI(users map[string]string) *credAPI {
	return &credAPI{users: users, issued: map[string]string{}, attempts: map[string]int{}}
}

func (a *credAPI) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *credAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/health":
		if a.AnyCookie != "" {
			w.Header().Add("Set-Cookie", a.AnyCookie)
		}
		a.send(w, 200, map[string]any{"status": "up"})
	case "/login":
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Username == "" && in.Password == "" && a.QueryLogin {
			in.Username, in.Password = r.URL.Query().Get("username"), r.URL.Query().Get("password")
		}
		a.attempts[in.Username]++
		if a.LimitAfter > 0 && a.failed >= a.LimitAfter {
			w.Header().Set("Retry-After", "60")
			a.send(w, 429, map[string]any{"message": "slow down"})
			return
		}
		pw, ok := a.users[in.Username]
		if (!ok || pw != in.Password || in.Password == "") && !a.TokenToAll {
			a.failed++
			st := a.FailStatus
			if st == 0 {
				st = 401
			}
			a.send(w, st, map[string]any{"message": "invalid credentials"})
			return
		}
		if a.MaxLogins > 0 && a.logins >= a.MaxLogins {
			a.send(w, 429, map[string]any{"message": "slow down"})
			return
		}
		var tok string
		if a.Token != nil {
			tok = a.Token(a.logins, in.Username)
		} else {
			var b [16]byte
			_, _ = rand.Read(b[:])
			tok = hex.EncodeToString(b[:])
		}
		a.logins++
		a.issued[tok] = in.Username
		if a.Cookie != "" {
			w.Header().Add("Set-Cookie", fmt.Sprintf(a.Cookie, tok))
		}
		if a.CookieOnly && in.Username != "mila" {
			a.send(w, 200, map[string]any{"message": "welcome"})
			return
		}
		a.send(w, 200, map[string]any{"token": tok})
	case "/items":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" && a.QueryToken != "" {
			tok = r.URL.Query().Get(a.QueryToken)
		}
		if c, err := r.Cookie("sid"); tok == "" && err == nil {
			tok = c.Value
		}
		u, ok := a.issued[tok]
		if a.QueryAny && a.QueryToken != "" && r.URL.Query().Get(a.QueryToken) != "" {
			u, ok = "anyone", true
		}
		if !ok {
			a.send(w, 401, map[string]any{"message": "unauthorized"})
			return
		}
		a.send(w, 200, []any{map[string]any{"id": 1, "owner": u}})
	default:
		a.send(w, 404, map[string]any{"message": "not found"})
	}
}

// scanCreds runs c against api as the login identity mila (password
// "mila-long-secret"), adding her account to api's users.
func scanCreds(t *testing.T, api *credAPI, safe bool, c scan.Check) *scan.Result {
	t.Helper()
	return scanCredsOpts(t, api, safe, nil, c)
}

// scanCredsAs is scanCreds with more login identities (username →
// password, the username naming the identity too).
func scanCredsAs(t *testing.T, api *credAPI, more map[string]string, c scan.Check) *scan.Result {
	t.Helper()
	return scanCredsOpts(t, api, false, more, c)
}

func scanCredsOpts(t *testing.T, api *credAPI, safe bool, more map[string]string, c scan.Check) *scan.Result {
	t.Helper()
	api.users["mila"] = "mila-long-secret"
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(credSpec), "creds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mila := scan.NewLoginIdentity("mila", "login", map[string]string{"username": "mila", "password": "mila-long-secret"})
	ids := []*scan.Identity{mila}
	for u, p := range more {
		ids = append(ids, scan.NewLoginIdentity(u, "login", map[string]string{"username": u, "password": p}))
	}
	tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 200, Safe: safe}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{c}, Safe: safe})
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range res.Checks {
		if cr.Error != "" {
			t.Errorf("check %s: %s", cr.Meta.ID, cr.Error)
		}
	}
	return res
}

// coverageOf returns the coverage status of operation op for the only
// check of res.
func coverageOf(res *scan.Result, op string) (status, reason string) {
	for _, oc := range res.Checks[0].Coverage {
		if oc.Operation == op {
			return oc.Status, oc.Reason
		}
	}
	return "", ""
}
