package scan_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

const guardSpec = `openapi: 3.0.3
info: { title: guard, version: "1" }
paths:
  /login:
    post:
      operationId: login
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /reset:
    post: { operationId: resetDatabase, responses: { "200": { description: ok } } }
  /maintenance/fixtures:
    post: { operationId: loadFixtures, summary: Seed the database with sample data, responses: { "200": { description: ok } } }
  /createdb:
    get: { responses: { "200": { description: ok } } }
  /books:
    get: { operationId: listBooks, responses: { "200": { description: ok } } }
    delete: { operationId: deleteBooks, responses: { "204": { description: ok } } }
  /books/{id}:
    parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
    get: { operationId: getBook, responses: { "200": { description: ok } } }
    delete: { operationId: deleteBook, summary: Delete a book, responses: { "204": { description: ok } } }
  /stats:
    get: { operationId: stats, x-gatehouse-scan: skip, responses: { "200": { description: ok } } }
  /rebuild:
    post: { operationId: rebuildIndex, x-gatehouse-scan: destructive, responses: { "200": { description: ok } } }
  /export:
    get: { operationId: exportAll, responses: { "200": { description: ok } } }
  /users/{username}/password:
    put:
      operationId: changePassword
      parameters: [ { name: username, in: path, required: true, schema: { type: string } } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /account/change-password:
    post:
      operationId: changeAnyPassword
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, newPassword: { type: string } } } } } }
      responses: { "200": { description: ok } }
`

func TestClassify(t *testing.T) {
	spec, err := openapi.LoadBytes([]byte(guardSpec), "guard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]scan.OpPolicy{
		"login": scan.OpNormal, "resetDatabase": scan.OpDestructive, "loadFixtures": scan.OpDestructive,
		"GET /createdb": scan.OpDestructive, "listBooks": scan.OpNormal, "deleteBooks": scan.OpDestructive,
		"getBook": scan.OpNormal, "deleteBook": scan.OpNormal, "stats": scan.OpExcluded,
		"rebuildIndex": scan.OpDestructive, "exportAll": scan.OpNormal, "changePassword": scan.OpNormal,
		"changeAnyPassword": scan.OpNormal,
	}
	for _, op := range spec.Operations {
		got, why := scan.Classify(op)
		if got != want[op.ID] {
			t.Errorf("Classify(%s) = %v (%s), want %v", op.ID, got, why, want[op.ID])
		}
	}
}

// hammer is a check that tries every operation three times as alice and
// then tries to change alice's password and carol's, as alice and
// anonymously.
type hammer struct{}

func (hammer) Meta() scan.Meta { return scan.Meta{ID: "GH9001", Title: "hammer", Severity: scan.High} }

func (hammer) Run(ctx context.Context, t *scan.Target, _ func(scan.Finding)) error {
	alice := t.Identity("alice")
	for _, op := range t.Spec.Operations {
		for range 3 {
			_, _ = t.Send(ctx, t.Prepare(op, alice), alice)
		}
	}
	// A raw request to the reset path, without an operation label.
	_, _ = t.Do(ctx, http.MethodPost, "/reset", nil, alice)
	op := t.Operation("changePassword")
	for _, who := range []string{"alice", "carol", "ALICE"} {
		for _, as := range []*scan.Identity{alice, nil} {
			p := t.Prepare(op, as)
			p.Path["username"] = who
			p.Body = map[string]any{"password": "' OR 1=1 --"}
			_, _ = t.Send(ctx, p, as)
		}
	}
	// The account named in the body, anonymously: alice's never, carol's.
	body := t.Operation("changeAnyPassword")
	for _, who := range []string{"Alice", "carol"} {
		p := t.Prepare(body, nil)
		p.Body = map[string]any{"username": who, "newPassword": "' OR 1=1 --"}
		_, _ = t.Send(ctx, p, nil)
	}
	return nil
}

func TestGuardProtectsTheTarget(t *testing.T) {
	spec, err := openapi.LoadBytes([]byte(guardSpec), "guard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		safe    bool
		exclude []string
		want    map[string]int // "METHOD path" → calls the server saw
	}{
		{"normal", false, nil, map[string]int{"POST /reset": 1, "POST /maintenance/fixtures": 1, "GET /createdb": 1,
			"DELETE /books": 1, "POST /rebuild": 1, "GET /stats": 0, "DELETE /books/b1": 3,
			// changePassword is a credential change: never sent as alice
			// (an API changing the caller's own record whatever the path
			// says would change hers), nor naming her in any case, in
			// the path or the body.
			"PUT /users/alice/password": 0, "PUT /users/carol/password": 1, "PUT /users/ALICE/password": 0,
			"POST /account/change-password": 1}},
		{"safe", true, nil, map[string]int{"POST /reset": 0, "POST /maintenance/fixtures": 0, "GET /createdb": 0,
			"DELETE /books": 0, "POST /rebuild": 0, "GET /stats": 0, "DELETE /books/b1": 0, "PUT /users/carol/password": 0}},
		{"exclude", false, []string{"exportAll", "POST /reset"}, map[string]int{"POST /reset": 0, "GET /export": 0, "POST /rebuild": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				calls[r.Method+" "+r.URL.Path]++
				mu.Unlock()
				if r.URL.Path == "/login" {
					var in map[string]string
					_ = json.Unmarshal(body, &in)
					_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + in["username"]})
					return
				}
				if strings.HasPrefix(r.URL.Path, "/books") && r.Method == http.MethodGet {
					_, _ = w.Write([]byte(`[{"id":"b1"}]`))
					return
				}
				w.WriteHeader(200)
			}))
			defer srv.Close()
			ids := []*scan.Identity{scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "pw-a"})}
			tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Safe: tc.safe}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{hammer{}}, Safe: tc.safe, Exclude: tc.exclude})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, n := range tc.want {
				if calls[k] != n {
					t.Errorf("%s called %d times, want %d", k, calls[k], n)
				}
			}
			skipped := 0
			for _, oc := range res.Checks[0].Coverage {
				if oc.Status == scan.CoverSkipped {
					skipped++
					if oc.Reason == "" {
						t.Errorf("operation %s skipped without a reason", oc.Operation)
					}
				}
			}
			if skipped == 0 {
				t.Errorf("no operation marked skipped: %+v", res.Checks[0].Coverage)
			}
			if len(res.Guarded) == 0 {
				t.Error("Result.Guarded is empty")
			}
		})
	}
	t.Run("unknown exclude", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer srv.Close()
		tg, _ := scan.NewTarget(spec, srv.URL, nil, nil, nil)
		_, err := scan.Run(context.Background(), tg, scan.Options{Exclude: []string{"noSuchOp"}})
		if err == nil || errors.Is(err, scan.ErrTargetDown) {
			t.Errorf("Run with --exclude noSuchOp = %v, want an error naming it", err)
		}
	})
}
