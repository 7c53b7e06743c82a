package dynamic_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// formAPI is built the way a FastAPI service is: an OAuth2 password form
// at POST /token (grant_type optional but, when sent, exactly "password";
// 422 with a "detail" list otherwise), opaque bearer tokens, form bodies
// on its writes, and JSON refused on them (415). It keeps a default
// admin/admin account, and its note search concatenates the title into SQL.
type formAPI struct {
	mu     sync.Mutex
	tokens map[string]string
	json   int // JSON bodies sent to form operations
}

const formSpec = `openapi: 3.1.0
info: { title: notes, version: "0.1.0" }
paths:
  /token:
    post:
      operationId: login_token_post
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [username, password]
              properties:
                grant_type: { anyOf: [{ type: string, pattern: "^password$" }, { type: "null" }] }
                username: { type: string }
                password: { type: string, format: password }
                scope: { type: string, default: "" }
                client_id: { anyOf: [{ type: string }, { type: "null" }] }
      responses:
        "200": { description: ok, content: { application/json: { schema: { type: object, properties: { access_token: { type: string }, token_type: { type: string } } } } } }
        "422": { description: invalid }
  /notes:
    post:
      operationId: create_note_notes_post
      security: [{ bearer: [] }]
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [title]
              properties:
                title: { type: string }
      responses:
        "201": { description: created }
components:
  securitySchemes:
    bearer: { type: oauth2, flows: { password: { tokenUrl: token, scopes: {} } } }
`

var formUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "admin": "admin"}

func (a *formAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	send := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		a.mu.Lock()
		a.json++
		a.mu.Unlock()
		send(415, map[string]any{"detail": "Unsupported Media Type"})
		return
	}
	if err := r.ParseForm(); err != nil {
		send(400, map[string]any{"detail": "bad form"})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		if g := r.PostForm.Get("grant_type"); r.PostForm.Has("grant_type") && g != "password" {
			send(422, map[string]any{"detail": []any{map[string]any{"loc": []string{"body", "grant_type"}, "msg": "string does not match regex"}}})
			return
		}
		u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
		if pw, ok := formUsers[u]; !ok || pw != p {
			send(401, map[string]any{"detail": "Incorrect username or password"})
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok := hex.EncodeToString(b)
		a.mu.Lock()
		a.tokens[tok] = u
		a.mu.Unlock()
		send(200, map[string]any{"access_token": tok, "token_type": "bearer"})
	case r.Method == http.MethodPost && r.URL.Path == "/notes":
		a.mu.Lock()
		_, ok := a.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		a.mu.Unlock()
		if !ok {
			send(401, map[string]any{"detail": "Not authenticated"})
			return
		}
		title := r.PostForm.Get("title")
		if strings.Count(title, "'")%2 == 1 {
			// "INSERT INTO notes (title) VALUES ('" + title + "')"
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`sqlite3.OperationalError: near "` + title + `": syntax error`))
			return
		}
		send(201, map[string]any{"title": title})
	default:
		send(404, map[string]any{"detail": "Not Found"})
	}
}

// The scanner on a form-bodied API (Python OAuth2 password login, form
// writes): identities log in through the form, the default-credential
// guess and the injection probes reach form fields, and nothing is sent
// as JSON to an operation that takes only forms.
func TestFormBodiedAPI(t *testing.T) {
	api := &formAPI{tokens: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	spec, err := openapi.LoadBytes([]byte(formSpec), "notes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login_token_post", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login_token_post", map[string]string{"username": "bob", "password": "bob-pw"}),
	}
	tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 2000}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.DefaultCredentials{}, dynamic.SQLiError{}}})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range res.Findings {
		found[f.CheckID+" "+f.Operation] = true
		t.Logf("%s %s %s: %s", f.CheckID, f.Operation, f.Param, f.Detail)
	}
	for _, want := range []string{"GH2008 login_token_post", "GH2050 create_note_notes_post"} {
		if !found[want] {
			t.Errorf("missing %s; coverage: %v", want, res.Checks)
		}
	}
	if api.json != 0 {
		t.Errorf("%d JSON bodies sent to operations that take only forms", api.json)
	}
}
