package dynamic_test

import (
	"context"
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

const redosOwnSpec = `
openapi: 3.0.3
info: { title: redos-own, version: "1" }
components:
  securitySchemes:
    bearerAuth: { type: http, scheme: bearer }
security:
  - bearerAuth: []
paths:
  /users/{username}/email:
    put:
      operationId: updateEmail
      parameters:
        - { name: username, in: path, required: true, schema: { type: string }, example: otto }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email]
              properties:
                email: { type: string, format: email }
      responses:
        "200": { description: ok }
  /books/{title}:
    put:
      operationId: updateBook
      parameters:
        - { name: title, in: path, required: true, schema: { type: string }, example: dune }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                email: { type: string, format: email }
      responses:
        "200": { description: ok }
`

// cappedBacktrack is backtrack with a step budget, the way a regex engine
// with a match timeout gives up: exponential below the cap, flat above.
func cappedBacktrack(s string, i int, steps *int) bool {
	for j := i + 1; j <= len(s) && isWordByte(s[j-1]); j++ {
		*steps++
		if *steps > 1<<23 {
			return false
		}
		if j < len(s) && s[j] == '@' {
			return true
		}
		if cappedBacktrack(s, j, steps) {
			return true
		}
	}
	return false
}

// ownEmailAPI validates PUT bodies' email with the capped backtracking
// matcher (vulnerable) or Go's regexp (correct), and records the paths
// that received a body other than the valid one.
type ownEmailAPI struct {
	vulnerable bool
	mu         sync.Mutex
	probed     map[string]int
}

func (a *ownEmailAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer mila-token" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var in struct{ Email string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	if !strings.Contains(in.Email, "@") {
		a.mu.Lock()
		a.probed[r.URL.Path]++
		a.mu.Unlock()
	}
	var ok bool
	if a.vulnerable {
		steps := 0
		ok = cappedBacktrack(in.Email, 0, &steps)
	} else {
		ok = linearEmailRe.MatchString(in.Email)
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte(`{"message":"updated"}`))
}

func scanOwnReDoS(t *testing.T, api *ownEmailAPI) *scan.Result {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(redosOwnSpec), "redos-own.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mila := scan.NewHeaderIdentity("mila", http.Header{"Authorization": {"Bearer mila-token"}})
	mila.Learn("mila")
	tg, err := scan.NewTarget(spec, srv.URL, []*scan.Identity{mila}, scan.NewClient(scan.ClientOptions{Budget: 500}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.ReDoS{}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestReDoSOwnWrite: PUT bodies are probed on the identity's own record
// only (its username in the path), and a matcher capped before an answer
// costs Unit is still caught by its exponential growth.
func TestReDoSOwnWrite(t *testing.T) {
	t.Run("capped backtracking matcher on the own record", func(t *testing.T) {
		var res *scan.Result
		var api *ownEmailAPI
		for range 3 { // timing noise can hide the growth (a miss, never a false positive)
			api = &ownEmailAPI{vulnerable: true, probed: map[string]int{}}
			if res = scanOwnReDoS(t, api); len(res.Findings) > 0 {
				break
			}
		}
		if len(res.Findings) != 1 || res.Findings[0].Operation != "updateEmail" || res.Findings[0].Param != "email" {
			t.Fatalf("findings %+v, want one on updateEmail email", res.Findings)
		}
		t.Log(res.Findings[0].Detail)
		if api.probed["/users/mila/email"] == 0 {
			t.Errorf("probed %v, want /users/mila/email", api.probed)
		}
		for p := range api.probed {
			if p != "/users/mila/email" {
				t.Errorf("probe rewrote %s, not the identity's own record", p)
			}
		}
	})
	t.Run("linear matcher", func(t *testing.T) {
		api := &ownEmailAPI{probed: map[string]int{}}
		res := scanOwnReDoS(t, api)
		for _, f := range res.Findings {
			t.Errorf("false positive: %s %s: %s", f.Operation, f.Param, f.Detail)
		}
		if api.probed["/users/mila/email"] == 0 {
			t.Errorf("probed %v, want the own record tested", api.probed)
		}
		if len(api.probed) != 1 {
			t.Errorf("probed %v, want only /users/mila/email", api.probed)
		}
	})
}
