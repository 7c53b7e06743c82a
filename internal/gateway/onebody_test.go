package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// The request body is parsed once, with one set of limits, for every stage
// that reads it (issue 13 item 15): the login limiter, the ownership rule and
// validation judge the same view. Before, the login limiter and the ownership
// rule parsed with jsonx's defaults (depth 32) while validation used
// request.max_depth: a body valid for the contract was refused by one stage
// and accepted by another.
const oneBodySpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /login:
    post:
      operationId: login
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [username]
              properties:
                username: {type: string}
                password: {type: string}
                meta: {}
      responses:
        "201": {description: ok}
  /users/{user_id}/notes:
    post:
      operationId: createNote
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                user_id: {type: string}
                meta: {}
      responses:
        "201": {description: ok}
`

func deepJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestAttackOneBodyViewDeepDocument(t *testing.T) {
	g := startIntegrity(t, oneBodySpec, `request:
  max_depth: 64
rate_limits:
  login:
    operations: [login]
    account_field: /username
    per_account: { rate: "100/min", burst: 100 }
authz:
  default: public
  rules:
    createNote:
      owner: { param: user_id, claim: sub }
`)
	tok := g.token("alice")
	for _, tc := range []struct {
		name, path, body, tok string
		want                  int
	}{
		// depth 40 (+2 for the wrapper): inside max_depth 64, beyond jsonx's default 32
		{"login deep", "/login", `{"username":"alice","password":"x","meta":` + deepJSON(40) + `}`, "", 201},
		{"owner deep", "/users/alice/notes", `{"user_id":"alice","meta":` + deepJSON(40) + `}`, tok, 201},
		// beyond max_depth: refused by the first stage that reads it
		// (login limiter 400, ownership rule 403), never forwarded
		{"login too deep", "/login", `{"username":"alice","meta":` + deepJSON(70) + `}`, "", 400},
		{"owner too deep", "/users/alice/notes", `{"user_id":"alice","meta":` + deepJSON(70) + `}`, tok, 403},
		// a second spelling of the owner field still decides (fold duplicate)
		{"owner duplicate", "/users/alice/notes", `{"user_id":"alice","User_Id":"bob"}`, tok, 403},
		{"owner other", "/users/alice/notes", `{"user_id":"bob"}`, tok, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := g.hits.Load()
			req, _ := http.NewRequest("POST", "http://"+g.base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.tok != "" {
				req.Header.Set("Authorization", "Bearer "+tc.tok)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			reached := g.hits.Load() > before
			if res.StatusCode != tc.want && !(tc.want < 300 && reached && res.StatusCode < 300) {
				t.Fatalf("status %d, want %d (upstream reached: %v)\n%s", res.StatusCode, tc.want, reached, g.logs.String())
			}
			if reached != (tc.want < 300) {
				t.Fatalf("upstream reached = %v for status %d", reached, res.StatusCode)
			}
		})
	}
}
