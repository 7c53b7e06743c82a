package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
)

// Specs that once crashed the process or would: each replaces a good spec
// on disk while the gateway serves.
var badReloadSpecs = []struct {
	name, spec string
	want       string // config.Locate keeps the message, not the error chain
}{
	{"schema ref cycle", `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A'}
`, "$ref cycle: #/components/"},
	{"response ref cycle", `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {$ref: '#/components/responses/R'}}
components:
  responses:
    R: {$ref: '#/components/responses/S'}
    S: {$ref: '#/components/responses/R'}
`, "$ref cycle: #/components/"},
	{"too deep", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-deep: " +
		strings.Repeat("[", openapi.MaxSpecDepth+5) + strings.Repeat("]", openapi.MaxSpecDepth+5) + "\n", "nesting deeper than 1000 levels"},
}

// TestWatchedSpecReplacedByCyclicDocument: the file watcher reloads a spec
// replaced by a document that would recurse forever; the reload fails with
// a located error and the running pipeline keeps answering.
func TestWatchedSpecReplacedByCyclicDocument(t *testing.T) {
	e := start(t, "", func(o *ServerOptions) { o.Watch = true; o.WatchDebounce = 20 * time.Millisecond })
	<-e.srv.watching
	good := e.srv.Pipeline()
	for _, tc := range badReloadSpecs {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, filepath.Join(e.dir, "spec.yaml"), tc.spec)
			var err error
			select {
			case err = <-e.reloaded:
			case <-time.After(20 * time.Second):
				t.Fatal("no reload after the spec changed")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "spec.yaml:") {
				t.Fatalf("reload error %q does not locate the problem in spec.yaml", err)
			}
			if e.srv.Pipeline() != good {
				t.Fatal("a failed reload replaced the pipeline")
			}
			res, body := e.do("GET", "/users/1", nil, nil)
			if res.StatusCode != 200 || body != `{"ok":true}` {
				t.Fatalf("GET /users/1 after the failed reload = %d %q", res.StatusCode, body)
			}
		})
	}
	// A well-founded recursive schema (a tree) is a good spec: it reloads.
	writeFile(t, filepath.Join(e.dir, "spec.yaml"), strings.Replace(testSpec, "schema: {type: object}",
		"schema: {$ref: '#/components/schemas/Node'}", 1)+
		"components:\n  schemas:\n    Node: {type: object, properties: {name: {type: string}, children: {type: array, items: {$ref: '#/components/schemas/Node'}}}}\n")
	select {
	case err := <-e.reloaded:
		if err != nil {
			t.Fatalf("tree schema reload: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no reload after the spec changed")
	}
	res, _ := e.do("POST", "/users", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"name":"a","children":[{"name":"b","children":[]}]}`))
	if res.StatusCode != 200 {
		t.Fatalf("POST /users with a tree body = %d", res.StatusCode)
	}
	res, _ = e.do("POST", "/users", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"name":"a","children":[{"name":"b","children":[{"nam":"typo"}]}]}`))
	if res.StatusCode != 400 {
		t.Fatalf("POST /users with an undeclared property three levels down = %d, want 400", res.StatusCode)
	}
}
