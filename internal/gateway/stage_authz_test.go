package gateway

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/internal/config"
)

const authzTestSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    parameters: [{name: user_id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getUser
      parameters: [{name: fields, in: query, schema: {type: string}}]
      responses: {"200": {description: ok}}
    patch:
      operationId: updateUser
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: {user_id: {type: integer}, name: {type: string}}
      responses: {"200": {description: ok}}
  /orders:
    get:
      operationId: listOrders
      parameters: [{name: user_id, in: query, required: true, schema: {type: integer}}]
      responses: {"200": {description: ok}}
  /admin/users:
    get:
      operationId: adminListUsers
      tags: [admin]
      responses: {"200": {description: ok}}
  /admin/reports/{id}:
    get:
      operationId: adminReport
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
  /health:
    get:
      operationId: health
      responses: {"200": {description: ok}}
`

const authzTestRules = `authz:
  default: authenticated
  rules:
    getUser: { owner: { param: user_id, claim: sub, unless_role: admin } }
    updateUser: { owner: { param: user_id, claim: sub } }
    listOrders: { owner: { param: user_id, claim: sub } }
    "tag:admin": { roles: [admin] }
    "path:/admin/**": { roles: [admin] }
    health: { public: true }
`

// authzGateway writes spec, key and config (authzYAML as the authz
// section) and returns the config path and the token signer.
func authzFixture(t *testing.T, upstream, authzYAML string) (string, jwk.Key) {
	t.Helper()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.Import(priv)
	pem, err := jwk.Pem(k)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("signing.pem", string(pem))
	write("openapi.yaml", authzTestSpec)
	write("gatehouse.yaml", fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
spec: openapi.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [signing.pem]
      audiences: [api]
      algorithms: [EdDSA]
%s`, upstream, authzYAML))
	set, err := jwt.ParseKeys(pem)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := set.Key(0)
	return filepath.Join(dir, "gatehouse.yaml"), signer
}

// recordingUpstream counts what reaches the API behind the gateway.
type recordingUpstream struct {
	mu   sync.Mutex
	hits []string
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.hits = append(u.hits, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

func (u *recordingUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	h := u.hits
	u.hits = nil
	return h
}

// rawDo sends a request line exactly as written (no client-side path
// cleaning), as an attacker would.
func rawDo(t *testing.T, addr, method, target, tok, ctype, body string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n", method, target)
	if tok != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", tok)
	}
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuthzEndToEnd runs the real pipeline (gateway.Build: route match,
// JWT authn, authz, validation, proxy) in front of a recording upstream and
// attacks it: other users' ids in every spelling and location, and admin
// paths in case and encoding variants. A denied request must never reach
// the upstream.
func TestAuthzEndToEnd(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	path, signer := authzFixture(t, upSrv.URL, authzTestRules)
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	addr := gw.Listener.Addr().String()

	mint := func(sub string, roles ...string) string {
		tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "api", "sub": sub, "roles": roles,
			"exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, admin := mint("1", "user"), mint("99", "admin")
	const js = "application/json"
	for _, tc := range []struct {
		name, method, target, tok, ctype, body string
		allowed                                bool // reaches upstream with 200
	}{
		{"own id", "GET", "/users/1", alice, "", "", true},
		{"other id", "GET", "/users/2", alice, "", "", false},
		{"id 01", "GET", "/users/01", alice, "", "", false},
		{"id +1", "GET", "/users/+1", alice, "", "", false},
		{"id 1.0", "GET", "/users/1.0", alice, "", "", false},
		{"id 0x1", "GET", "/users/0x1", alice, "", "", false},
		{"id 1e0", "GET", "/users/1e0", alice, "", "", false},
		{"id space-1", "GET", "/users/%201", alice, "", "", false},
		{"id 1-space", "GET", "/users/1%20", alice, "", "", false},
		{"encoded other id", "GET", "/users/%32", alice, "", "", false},
		{"path own query other", "GET", "/users/1?user_id=2", alice, "", "", false},
		{"path own query case variant", "GET", "/users/1?User_Id=2", alice, "", "", false},
		{"admin escape hatch", "GET", "/users/2", admin, "", "", true},
		{"anonymous", "GET", "/users/1", "", "", "", false},
		{"query own", "GET", "/orders?user_id=1", alice, "", "", true},
		{"query repeated", "GET", "/orders?user_id=1&user_id=2", alice, "", "", false},
		{"query repeated reversed", "GET", "/orders?user_id=2&user_id=1", alice, "", "", false},
		{"query 01", "GET", "/orders?user_id=01", alice, "", "", false},
		{"body own", "PATCH", "/users/1", alice, js, `{"user_id":1,"name":"a"}`, true},
		{"body other", "PATCH", "/users/1", alice, js, `{"user_id":2,"name":"a"}`, false},
		{"body duplicate", "PATCH", "/users/1", alice, js, `{"user_id":1,"user_id":2}`, false},
		{"body unicode-escaped duplicate", "PATCH", "/users/1", alice, js, `{"user_id":1,"\u0075ser_id":2}`, false},
		{"body 1.0", "PATCH", "/users/1", alice, js, `{"user_id":1.0}`, false},
		{"admin as admin", "GET", "/admin/users", admin, "", "", true},
		{"admin as user", "GET", "/admin/users", alice, "", "", false},
		{"untagged admin op via path group", "GET", "/admin/reports/q3", alice, "", "", false},
		{"untagged admin op as admin", "GET", "/admin/reports/q3", admin, "", "", true},
		{"ADMIN upper case", "GET", "/ADMIN/users", alice, "", "", false},
		{"dot segment", "GET", "/admin/./users", alice, "", "", false},
		{"dot-dot segment", "GET", "/x/../admin/users", alice, "", "", false},
		{"encoded slash", "GET", "/admin%2Fusers", alice, "", "", false},
		{"double slash", "GET", "//admin/users", alice, "", "", false},
		{"matrix param", "GET", "/admin;x/users", alice, "", "", false},
		{"encoded a", "GET", "/%61dmin/users", alice, "", "", false},
		{"trailing slash", "GET", "/admin/users/", alice, "", "", false},
		{"public health", "GET", "/health", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.take()
			got := rawDo(t, addr, tc.method, tc.target, tc.tok, tc.ctype, tc.body)
			hits := up.take()
			if tc.allowed {
				if got != 200 || len(hits) != 1 {
					t.Fatalf("%s %s = %d (upstream hits %q), want 200 forwarded", tc.method, tc.target, got, hits)
				}
				return
			}
			if got < 400 || len(hits) != 0 {
				t.Fatalf("%s %s = %d, upstream hits %q; want a 4xx and nothing forwarded", tc.method, tc.target, got, hits)
			}
			t.Logf("%s %s -> %d", tc.method, tc.target, got)
		})
	}
}

// TestAuthzStatusCodes pins 401 vs 403 through the whole pipeline.
func TestAuthzStatusCodes(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	path, signer := authzFixture(t, upSrv.URL, authzTestRules)
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	tok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "api", "sub": "1", "exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
	addr := gw.Listener.Addr().String()
	for _, tc := range []struct {
		target, tok string
		want        int
	}{
		{"/users/2", tok, 403},
		{"/users/1", "", 401},
		{"/admin/users", "", 401},
		{"/admin/users", tok, 403},
	} {
		if got := rawDo(t, addr, "GET", tc.target, tc.tok, "", ""); got != tc.want {
			t.Errorf("GET %s (token %v) = %d, want %d", tc.target, tc.tok != "", got, tc.want)
		}
	}
}

func TestAuthzMonitorMode(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	path, signer := authzFixture(t, upSrv.URL, strings.Replace(authzTestRules, "  default: authenticated\n", "  default: authenticated\n  mode: monitor\n", 1))
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	tok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "api", "sub": "1", "exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", signer)
	if got := rawDo(t, gw.Listener.Addr().String(), "GET", "/users/2", tok, "", ""); got != 200 || len(up.take()) != 1 {
		t.Fatalf("monitor mode GET /users/2 = %d, want 200 forwarded", got)
	}
}

// TestAuthzBuildErrors: rule problems that need the spec fail Build, and
// config.Locate places them at the rule's key in the file.
func TestAuthzBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		want        []string
	}{
		{"cel type error", `getUser: { allow: "request.path.user_id == principal.sub" }`,
			[]string{"authz.rules.getUser.allow", "no matching overload", "gatehouse.yaml:12:"}},
		{"cel unknown param", `getUser: { allow: "request.path.userid == 1" }`,
			[]string{"authz.rules.getUser.allow", "request.path declares: user_id int"}},
		{"typo key", `getUsr: { roles: [admin] }`, []string{"authz.rules.getUsr", "matches no operation"}},
		{"typo tag", `"tag:amdin": { roles: [admin] }`, []string{"authz.rules.tag:amdin", "matches no operation"}},
		{"public under admin group", "\"path:/admin/**\": { roles: [admin] }\n    adminListUsers: { public: true }",
			[]string{"authz.rules.adminListUsers.public", "cannot override"}},
		{"owner param not declared", `health: { owner: { param: user_id, claim: sub } }`,
			[]string{"authz.rules.health.owner.param", "does not declare"}},
		{"cel in group typed per operation", `"path:/users/**": { allow: "request.path.user_id == 'x'" }`,
			[]string{"authz.rules.path:/users/**.allow", "operation getUser"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := authzFixture(t, "http://127.0.0.1:1", "authz:\n  rules:\n    "+tc.rules+"\n")
			cfg, err := config.Check(path)
			if err != nil {
				t.Fatalf("config.Check: %v", err)
			}
			_, err = Build(context.Background(), cfg, Deps{})
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			err = cfg.Locate(err)
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Locate(err) = %v, not a located config error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAuthzPublicOperations(t *testing.T) {
	path, _ := authzFixture(t, "http://127.0.0.1:1", authzTestRules)
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pub, err := AuthzPublicOperations(cfg, p.Spec())
	if err != nil || strings.Join(pub, ",") != "health" {
		t.Fatalf("AuthzPublicOperations = %v, %v; want [health]", pub, err)
	}
	ws, err := AuthzWarnings(cfg, p.Spec())
	if err != nil || len(ws) != 1 || ws[0].Path != "authz.rules.health.public" || !ws[0].Warning || ws[0].Line == 0 {
		t.Fatalf("AuthzWarnings = %+v, %v", ws, err)
	}
	// Under a public default, only the operations no rule addresses are added.
	cfg.Authz.Default = "public"
	delete(cfg.Authz.Rules, "listOrders")
	pub, _ = AuthzPublicOperations(cfg, p.Spec())
	if strings.Join(pub, ",") != "health,listOrders" {
		t.Fatalf("AuthzPublicOperations(default public) = %v, want [health listOrders]", pub)
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
