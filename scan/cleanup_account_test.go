package scan_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// accountsAPI registers accounts with a message-only answer (the VAmPI
// style), logs them in with a bearer token, and deletes an account only
// as itself: DELETE /users/{username} (403 for anyone else) and/or
// DELETE /me, as the spec it is given declares.
type accountsAPI struct {
	mu     sync.Mutex
	users  map[string]string // name → password
	tokens map[string]string // token → name
	// adminDeletes: DELETE /users/{username} is for "admin" only (the
	// account itself gets 403), as in many APIs.
	adminDeletes bool
}

func (a *accountsAPI) names() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for n := range a.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (a *accountsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	send := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	a.mu.Lock()
	defer a.mu.Unlock()
	caller := a.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/users/register":
		if _, ok := a.users[body["username"]]; ok || body["username"] == "" {
			send(400, map[string]string{"message": "User already exists"})
			return
		}
		a.users[body["username"]] = body["password"]
		send(200, map[string]string{"message": "Successfully registered"})
	case r.Method == http.MethodPost && r.URL.Path == "/users/login":
		if pw, ok := a.users[body["username"]]; !ok || pw != body["password"] {
			send(200, map[string]string{"message": "Username or password incorrect"}) // 200 on failure
			return
		}
		tok := "t-" + body["username"]
		a.tokens[tok] = body["username"]
		send(200, map[string]string{"auth_token": tok})
	case r.Method == http.MethodGet && r.URL.Path == "/users/me" && caller != "":
		send(200, map[string]string{"username": caller})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/users/") && caller != "":
		name := strings.TrimPrefix(r.URL.Path, "/users/")
		if a.adminDeletes && caller != "admin" || !a.adminDeletes && name != caller {
			send(403, map[string]string{"message": "Only the account itself"})
			return
		}
		delete(a.users, name)
		send(200, map[string]string{"message": "deleted"})
	case r.Method == http.MethodDelete && r.URL.Path == "/me" && caller != "":
		delete(a.users, caller)
		send(204, nil)
	default:
		send(404, map[string]string{"message": "not found"})
	}
}

const accountsSpecHead = `openapi: 3.1.0
info: { title: accounts, version: "1" }
paths:
  /users/register:
    post:
      operationId: register
      requestBody: { content: { application/json: { schema: { type: object, required: [username, password], properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users/login:
    post:
      operationId: login
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users/me:
    get:
      operationId: me
      responses: { "200": { description: ok } }
`

// The accounts a scan registers (the crawl registers one per identity)
// are deleted at the end, by logging in as each and deleting it as
// itself; what cannot be deleted is listed with the reason.
func TestCleanupDeletesRegisteredAccounts(t *testing.T) {
	for _, tc := range []struct {
		name, paths string
		safe        bool
		status      string
		reason      string
		admin       bool // an admin identity, and only it may delete users
	}{
		{"DELETE /users/{username}", `  /users/{username}:
    delete:
      operationId: deleteUser
      parameters: [{ name: username, in: path, required: true, schema: { type: string } }]
      responses: { "200": { description: ok } }
`, false, scan.CleanDeleted, "", false},
		{"DELETE /me", `  /me:
    delete:
      operationId: deleteMe
      responses: { "204": { description: ok } }
`, false, scan.CleanDeleted, "", false},
		{"no way to delete", "", false, scan.CleanKept, "no way to delete an account", false},
		{"safe mode", `  /me:
    delete:
      operationId: deleteMe
      responses: { "204": { description: ok } }
`, true, scan.CleanKept, "safe mode forbids DELETE", false},
		{"DELETE /users/{username} for admins only", `  /users/{username}:
    delete:
      operationId: deleteUser
      parameters: [{ name: username, in: path, required: true, schema: { type: string } }]
      responses: { "200": { description: ok } }
`, false, scan.CleanDeleted, "", true},
		{"admins only, and no admin identity", `  /users/{username}:
    delete:
      operationId: deleteUser
      parameters: [{ name: username, in: path, required: true, schema: { type: string } }]
      responses: { "200": { description: ok } }
`, false, scan.CleanKept, "DELETE refused as the account itself: deleteUser: 403", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &accountsAPI{users: map[string]string{"alice": "alice-pw-1", "bob": "bob-pw-1"}, tokens: map[string]string{}}
			adminOnly := strings.Contains(tc.name, "admins only")
			api.adminDeletes = adminOnly
			srv := httptest.NewServer(api)
			defer srv.Close()
			spec, err := openapi.LoadBytes([]byte(accountsSpecHead+tc.paths), "accounts.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ids := []*scan.Identity{
				scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw-1"}),
				scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw-1"}),
			}
			want := "alice,bob"
			if tc.admin {
				api.users["admin"] = "admin-pw-1"
				ids = append(ids, scan.NewLoginIdentity("admin", "login", map[string]string{"username": "admin", "password": "admin-pw-1"}))
				want = "admin,alice,bob"
			}
			tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Safe: tc.safe}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			accounts := 0
			for _, c := range res.Cleanup {
				if c.Operation != "register" {
					continue
				}
				accounts++
				if c.Status != tc.status || !strings.Contains(c.Reason, tc.reason) {
					t.Errorf("account %s: %s %q, want %s %q", c.Path, c.Status, c.Reason, tc.status, tc.reason)
				}
			}
			if accounts == 0 {
				t.Fatalf("the scan registered no account it knows of: cleanup %+v", res.Cleanup)
			}
			left := api.names()
			if tc.status == scan.CleanKept {
				if len(left) != len(ids)+accounts {
					t.Errorf("accounts left %v, want alice, bob and the %d kept", left, accounts)
				}
			} else if strings.Join(left, ",") != want {
				t.Errorf("accounts left %v, want only %s", left, want)
			}
		})
	}
}
