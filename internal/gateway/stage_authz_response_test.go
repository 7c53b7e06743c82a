package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/internal/config"
)

const ownerRespSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /notes/{note_id}:
    parameters: [{name: note_id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getNote
      x-gatehouse-owner-field: owner_id
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
        "404": {description: not found}
    delete:
      operationId: deleteNote
      responses: {"204": {description: gone}}
  /notes:
    get:
      operationId: listNotes
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Note"}}}}}
  /strict-notes:
    get:
      operationId: listNotesStrict
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Note"}}}}}
  /health:
    get:
      operationId: health
      responses: {"200": {description: ok}}
components:
  schemas:
    Note:
      type: object
      properties:
        id: {type: integer}
        owner_id: {type: integer}
        text: {type: string}
`

const ownerRespRules = `authz:
  default: authenticated
  rules:
    getNote: { owner_response: { claim: sub, unless_role: admin } }   # field from x-gatehouse-owner-field
    listNotes: { owner_response: { field: /owner_id, claim: sub, filter: true } }
    listNotesStrict: { owner_response: { field: /owner_id, claim: sub, deny_status: 403 } }
    health: { public: true }
response: { mode: "off", max_body: 1KiB }
`

// noteUpstream answers the note operations with bodies chosen by id, as a
// vulnerable API would: it never checks who is asking.
type noteUpstream struct {
	mu        sync.Mutex
	condSeen  []string // conditional/range/encoding headers that reached it
	bodyByID  map[string]string
	ctypeByID map[string]string
}

const secret = "SECRET"

func newNoteUpstream() *noteUpstream {
	big := `{"id":10,"owner_id":1,"text":"` + strings.Repeat("x", 2048) + `"}`
	return &noteUpstream{
		bodyByID: map[string]string{
			"1":  `{"id":1,"owner_id":1,"text":"mine"}`,
			"2":  `{"id":2,"owner_id":2,"text":"SECRET of user 2"}`,
			"3":  `{"id":3,"owner_id":"1","text":"owner as a JSON string"}`,
			"4":  `{"id":4,"owner_id":1.0,"text":"SECRET 1.0"}`,
			"5":  `{"id":5,"owner_id":"01","text":"SECRET 01"}`,
			"6":  `{"id":6,"owner_id":1,"owner_id":2,"text":"SECRET dup"}`,
			"7":  `{"id":7,"owner_id":1,"Owner_Id":2,"text":"SECRET case dup"}`,
			"8":  `{"id":8,"text":"SECRET no owner"}`,
			"9":  `owner_id=1 SECRET not json`,
			"10": big,
			"11": `{"id":11,"owner_id":null,"text":"SECRET null"}`,
			"12": `{"id":12,"owner_id":1,"\u006fwner_id":2,"text":"SECRET escaped dup"}`,
			"13": `{"id":13,"owner_id":1,"text":"SECRET"}{"owner_id":2}`,
			"14": `{"id":14,"owner_id":1e0,"text":"SECRET 1e0"}`,
			"15": `{"id":15,"owner_id":" 1","text":"SECRET space"}`,
			"16": `[{"id":16,"owner_id":2,"text":"SECRET array on a single-object op"}]`,
			"17": `{"id":17,"owner_id":true,"text":"SECRET bool"}`,
			"18": `{"id":18,"owner_id":{"id":1},"text":"SECRET object"}`,
		},
		ctypeByID: map[string]string{"9": "text/plain", "3": "application/json; charset=utf-8"},
	}
}

func (u *noteUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "Range", "Accept-Encoding"} {
		if r.Header.Get(h) != "" && !(h == "Accept-Encoding" && r.Header.Get(h) == "gzip" && r.Header.Get("X-Test-Gzip") == "") {
			u.condSeen = append(u.condSeen, h)
		}
	}
	u.mu.Unlock()
	h := w.Header()
	h.Set("X-Upstream-Secret", "internal-shard-7")
	h.Set("Etag", `"v1"`)
	switch {
	case r.URL.Path == "/notes" || r.URL.Path == "/strict-notes":
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"owner_id":1,"text":"a"},{"id":2,"owner_id":2,"text":"SECRET b"},{"id":3,"owner_id":"1","text":"c"},{"id":4,"owner_id":"01","text":"SECRET d"}]`)
		return
	case r.URL.Path == "/notes/404":
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"title":"Not Found"}`)
		return
	case r.URL.Path == "/notes/19":
		h.Set("Content-Type", "application/json")
		h.Set("Content-Encoding", "br")
		io.WriteString(w, "SECRET brotli bytes")
		return
	case r.URL.Path == "/notes/20":
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	case r.URL.Path == "/notes/21": // streamed in chunks with flushes
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":21,`)
		http.NewResponseController(w).Flush()
		io.WriteString(w, `"owner_id":2,"text":"SECRET streamed"}`)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/notes/")
	if id == "20" {
		id = "2"
	}
	body, ok := u.bodyByID[id]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ct := u.ctypeByID[id]
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	io.WriteString(w, body)
}

// ownerRespGateway builds the real pipeline (route, JWT authn, authz,
// validation, proxy) in front of up with rules as the config's tail.
func ownerRespGateway(t *testing.T, up http.Handler, rules string, deps Deps) (gw *httptest.Server, mint func(sub string, roles ...string) string) {
	t.Helper()
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	path, signer := ownerRespFixture(t, upSrv.URL, rules)
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	p, err := Build(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	gw = httptest.NewServer(p)
	t.Cleanup(gw.Close)
	mint = func(sub string, roles ...string) string {
		tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "api", "sub": sub, "roles": roles,
			"exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return gw, mint
}

func ownerRespFixture(t *testing.T, upstream, rules string) (string, jwk.Key) {
	t.Helper()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.Import(priv)
	pem, err := jwk.Pem(k)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"signing.pem": string(pem), "openapi.yaml": ownerRespSpec,
		"gatehouse.yaml": fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
spec: openapi.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [signing.pem]
      audiences: [api]
      algorithms: [EdDSA]
%s`, upstream, rules)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := jwt.ParseKeys(pem)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := set.Key(0)
	return filepath.Join(dir, "gatehouse.yaml"), signer
}

type gotResp struct {
	status int
	header http.Header
	body   string
}

func ownerGet(t *testing.T, gw *httptest.Server, method, target, tok string, hdr map[string]string) gotResp {
	t.Helper()
	req, _ := http.NewRequest(method, gw.URL+target, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// No transparent gzip: the test sees exactly what the gateway sent.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
		t.Fatalf("Content-Length %s but %d bytes", cl, len(b))
	}
	return gotResp{resp.StatusCode, resp.Header, string(b)}
}

// TestOwnerResponseEndToEnd attacks a read whose owner only the upstream
// knows: user 1 asks for notes in every owner spelling and malformed body
// the upstream might produce. A denied body must never reach the client,
// nor the upstream's headers.
func TestOwnerResponseEndToEnd(t *testing.T) {
	up := newNoteUpstream()
	gw, mint := ownerRespGateway(t, up, ownerRespRules, Deps{})
	alice, admin := mint("1", "user"), mint("99", "admin")

	for _, tc := range []struct {
		name, target, tok string
		hdr               map[string]string
		status            int
		same              string // for 200: the upstream body, unchanged
	}{
		{"own note", "/notes/1", alice, nil, 200, up.bodyByID["1"]},
		{"other user's note", "/notes/2", alice, nil, 404, ""},
		{"admin unless_role", "/notes/2", admin, nil, 200, up.bodyByID["2"]},
		{"owner as JSON string \"1\" (canonical)", "/notes/3", alice, nil, 200, up.bodyByID["3"]},
		{"owner 1.0", "/notes/4", alice, nil, 404, ""},
		{"owner \"01\"", "/notes/5", alice, nil, 404, ""},
		{"duplicate owner_id keys", "/notes/6", alice, nil, 404, ""},
		{"case-variant duplicate key", "/notes/7", alice, nil, 404, ""},
		{"missing owner field", "/notes/8", alice, nil, 404, ""},
		{"non-JSON 2xx", "/notes/9", alice, nil, 404, ""},
		{"oversize response", "/notes/10", alice, nil, 502, ""},
		{"owner null", "/notes/11", alice, nil, 404, ""},
		{"unicode-escaped duplicate key", "/notes/12", alice, nil, 404, ""},
		{"trailing second document", "/notes/13", alice, nil, 404, ""},
		{"owner 1e0", "/notes/14", alice, nil, 404, ""},
		{"owner with space", "/notes/15", alice, nil, 404, ""},
		{"array where an object is declared", "/notes/16", alice, nil, 404, ""},
		{"owner boolean", "/notes/17", alice, nil, 404, ""},
		{"owner object", "/notes/18", alice, nil, 404, ""},
		{"encoded body cannot be verified", "/notes/19", alice, nil, 502, ""},
		{"If-None-Match * probe gets no 304", "/notes/20", alice, map[string]string{"If-None-Match": "*"}, 404, ""},
		{"Range probe stripped", "/notes/2", alice, map[string]string{"Range": "bytes=0-5"}, 404, ""},
		{"streamed with flush", "/notes/21", alice, nil, 404, ""},
		{"upstream 404 passes", "/notes/404", alice, nil, 404, ""},
		{"anonymous", "/notes/1", "", nil, 401, ""},
		{"list filtered", "/notes", alice, nil, 200, `[{"id":1,"owner_id":1,"text":"a"},{"id":3,"owner_id":"1","text":"c"}]`},
		{"list for a user who owns nothing is empty", "/notes", admin, nil, 200, "[]"}, // listNotes has no unless_role
		{"strict list denies with 403", "/strict-notes", alice, nil, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ownerGet(t, gw, "GET", tc.target, tc.tok, tc.hdr)
			if got.status != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.target, got.status, got.body, tc.status)
			}
			if tc.status == 200 {
				if got.body != tc.same {
					t.Fatalf("body = %s\nwant %s", got.body, tc.same)
				}
				return
			}
			if strings.Contains(got.body, secret) {
				t.Fatalf("denied body leaked: %s", got.body)
			}
			if tc.target == "/notes/404" {
				return
			}
			if got.header.Get("X-Upstream-Secret") != "" || got.header.Get("Etag") != "" || got.header.Get("Content-Encoding") != "" {
				t.Fatalf("upstream headers leaked on deny: %v", got.header)
			}
			if tc.tok != "" && !strings.HasPrefix(got.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("Content-Type = %q, want the problem body", got.header.Get("Content-Type"))
			}
			if got.header.Get("X-Request-Id") == "" {
				t.Fatal("gateway header X-Request-Id lost on deny")
			}
		})
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.condSeen) != 0 {
		t.Fatalf("conditional/range headers reached the upstream: %v", up.condSeen)
	}
}

// TestOwnerResponseFilteredHeaders: a filtered list drops validators that
// describe the unfiltered body.
func TestOwnerResponseFilteredHeaders(t *testing.T) {
	gw, mint := ownerRespGateway(t, newNoteUpstream(), ownerRespRules, Deps{})
	got := ownerGet(t, gw, "GET", "/notes", mint("1"), nil)
	if got.status != 200 || got.header.Get("Etag") != "" {
		t.Fatalf("status %d, Etag %q: want 200 without the unfiltered body's Etag", got.status, got.header.Get("Etag"))
	}
	var arr []map[string]any
	if err := json.Unmarshal([]byte(got.body), &arr); err != nil || len(arr) != 2 {
		t.Fatalf("filtered list = %s (%v)", got.body, err)
	}
}

// TestOwnerResponseMonitor: in monitor mode the body passes and the
// mismatch is recorded (metric outcome monitor, log line).
func TestOwnerResponseMonitor(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	rules := strings.Replace(ownerRespRules, "default: authenticated", "default: authenticated\n  mode: monitor", 1)
	up := newNoteUpstream()
	gw, mint := ownerRespGateway(t, up, rules, Deps{Registry: reg, Logger: log})
	got := ownerGet(t, gw, "GET", "/notes/2", mint("1"), nil)
	if got.status != 200 || got.body != up.bodyByID["2"] {
		t.Fatalf("monitor: %d %s, want the upstream's 200 unchanged", got.status, got.body)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_authz_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["rule"] == "getNote" && labels["outcome"] == "monitor" && m.GetCounter().GetValue() == 1 {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no gatehouse_authz_decisions_total{rule=getNote,outcome=monitor} = 1")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "response owner mismatch") && !strings.Contains(logs.String(), "authz denied response") {
		t.Fatalf("no log line for the monitored mismatch:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the response body was logged")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestOwnerResponseEnforceMetric: a denial counts as outcome deny.
func TestOwnerResponseEnforceMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	gw, mint := ownerRespGateway(t, newNoteUpstream(), ownerRespRules, Deps{Registry: reg})
	if got := ownerGet(t, gw, "GET", "/notes/2", mint("1"), nil); got.status != 404 {
		t.Fatalf("status %d", got.status)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "gatehouse_authz_decisions_total" {
			for _, m := range mf.GetMetric() {
				l := m.GetLabel()
				if len(l) == 2 && l[0].GetValue() == "deny" && l[1].GetValue() == "getNote" && m.GetCounter().GetValue() == 1 {
					return
				}
			}
		}
	}
	t.Fatal("no gatehouse_authz_decisions_total{rule=getNote,outcome=deny} = 1")
}

// TestOwnerResponseBuildErrors: misuse fails Build (or config validation)
// at the rule's key path.
func TestOwnerResponseBuildErrors(t *testing.T) {
	for _, tc := range []struct{ name, rules, want string }{
		{"unsafe method", `authz:
  rules:
    deleteNote: { owner_response: { field: /owner_id, claim: sub } }
`, "authz.rules.deleteNote.owner_response"},
		{"group key", `authz:
  rules:
    "path:/notes/**": { owner_response: { field: /owner_id, claim: sub } }
`, "owner_response is only allowed on an operation key"},
		{"no field and no extension", `authz:
  rules:
    listNotes: { owner_response: { claim: sub } }
`, "field is required"},
		{"not a pointer", `authz:
  rules:
    getNote: { owner_response: { field: owner_id, claim: sub } }
`, "JSON pointer"},
		{"bad deny status", `authz:
  rules:
    getNote: { owner_response: { field: /owner_id, claim: sub, deny_status: 200 } }
`, "deny_status"},
		{"unknown key (strict config)", `authz:
  rules:
    getNote: { owner_response: { field: /owner_id, claim: sub, filtr: true } }
`, "filtr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := ownerRespFixture(t, "http://127.0.0.1:1", tc.rules)
			cfg, err := config.Check(path)
			if err == nil {
				var p interface{ Close() error }
				p, err = Build(context.Background(), cfg, Deps{})
				if err == nil {
					p.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestOwnerFieldExtensionWarning: a spec that marks the owner field of an
// operation no rule protects draws a validate warning.
func TestOwnerFieldExtensionWarning(t *testing.T) {
	path, _ := ownerRespFixture(t, "http://127.0.0.1:1", "authz: { default: authenticated }\n")
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ws, err := AuthzWarnings(cfg, p.Spec())
	if err != nil || len(ws) != 1 || !strings.Contains(ws[0].Msg, "getNote declares x-gatehouse-owner-field") {
		t.Fatalf("AuthzWarnings = %+v, %v", ws, err)
	}
	path, _ = ownerRespFixture(t, "http://127.0.0.1:1", ownerRespRules)
	cfg, _ = config.Check(path)
	if ws, err := AuthzWarnings(cfg, p.Spec()); err != nil || len(ws) != 1 || ws[0].Path != "authz.rules.health.public" {
		t.Fatalf("with the rule: AuthzWarnings = %+v, %v", ws, err)
	}
}
