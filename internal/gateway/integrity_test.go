package gateway

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// The attack tests of issue 13 ("what the gateway checked is exactly what
// the upstream receives"), each through the real listener to a real
// upstream over 127.0.0.1.

const integritySpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /items:
    get:
      operationId: listItems
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
        - {name: price, in: query, schema: {type: number}}
        - {name: tags, in: query, schema: {type: array, items: {type: string}}}
        - {name: q, in: query, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Item'}}
    post:
      operationId: createItem
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Item'}
      responses:
        "201":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      operationId: getItem
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
    patch:
      operationId: updateItem
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Item'}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
components:
  schemas:
    Owner:
      type: object
      properties:
        name: {type: string}
        created: {type: string, readOnly: true}
    Item:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        role: {type: string, readOnly: true}
        secret: {type: string, writeOnly: true}
        owner:
          allOf: [{$ref: '#/components/schemas/Owner'}]
        tags: {type: array, items: {$ref: '#/components/schemas/Owner'}}
`

// seen is what the test upstream received.
type seen struct {
	Method, RequestURI string
	Header, Trailer    http.Header
	Body               string
}

// igw is a gateway under attack: real listeners, real upstream, a JWT key.
type igw struct {
	t       *testing.T
	dir     string
	base    string
	admin   string
	srv     *Server
	signer  jwk.Key
	logs    *syncBuf
	mu      sync.Mutex
	last    *seen
	hits    atomic.Int64
	respond atomic.Pointer[func(http.ResponseWriter, *http.Request)]
}

func (g *igw) lastSeen() *seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// startIntegrity starts a gateway for spec (integritySpec when "") with
// extra config YAML appended (an authz section in extra replaces the
// default "authz: {default: public}"); the upstream echoes {"ok":true} unless
// g.respond is set.
func startIntegrity(t *testing.T, spec, extra string, opts ...envOpt) *igw {
	t.Helper()
	if spec == "" {
		spec = integritySpec
	}
	g := &igw{t: t, dir: t.TempDir(), logs: &syncBuf{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s := &seen{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), Trailer: r.Trailer.Clone(), Body: string(b)}
		g.mu.Lock()
		g.last = s
		g.mu.Unlock()
		if f := g.respond.Load(); f != nil {
			(*f)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/items":
			_, _ = io.WriteString(w, `[{"id":1,"name":"a"}]`)
		case r.Method == "POST":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":1,"name":"a"}`)
		default:
			_, _ = io.WriteString(w, `{"id":1,"name":"a"}`)
		}
	}))
	t.Cleanup(up.Close)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.Import(priv)
	pem, err := jwk.Pem(k)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwt.ParseKeys(pem)
	if err != nil {
		t.Fatal(err)
	}
	g.signer, _ = set.Key(0)
	writeFile(t, filepath.Join(g.dir, "signing.pem"), string(pem))
	writeFile(t, filepath.Join(g.dir, "spec.yaml"), spec)
	cfgPath := filepath.Join(g.dir, "gatehouse.yaml")
	authzBlock := "authz:\n  default: public\n" // unless extra has its own
	if strings.Contains("\n"+extra, "\nauthz:") {
		authzBlock = ""
	}
	writeFile(t, cfgPath, fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
spec: spec.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [signing.pem]
      audiences: [items-api]
      algorithms: [EdDSA]
%stimeouts:
  shutdown: 5s
%s`, up.URL, authzBlock, extra))
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	so := ServerOptions{ConfigPath: cfgPath, Logger: slog.New(slog.NewJSONHandler(g.logs, nil)),
		PublicListener: pub, AdminListener: adm}
	for _, o := range opts {
		o(&so)
	}
	g.srv, err = NewServer(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	g.base, g.admin = pub.Addr().String(), "http://"+adm.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return g
}

// token mints a valid JWT for sub.
func (g *igw) token(sub string) string {
	g.t.Helper()
	tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "items-api", "sub": sub,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}, "EdDSA", g.signer)
	if err != nil {
		g.t.Fatal(err)
	}
	return tok
}

// rawResp is one response read off a raw connection.
type rawResp struct {
	*http.Response
	body string
}

// rawExchange writes msg on a fresh TCP connection, reads one response and
// reports whether the gateway then closed the connection.
func (g *igw) rawExchange(msg string) (res rawResp, closed bool) {
	g.t.Helper()
	c, err := net.Dial("tcp", g.base)
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, msg); err != nil {
		g.t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		g.t.Fatalf("read response: %v", err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	// A closed connection reads EOF at once; an open one times out.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	closed = err == io.EOF || (err != nil && !(errorsAs(err, &ne) && ne.Timeout()))
	return rawResp{r, string(b)}, closed
}

func errorsAs(err error, ne *net.Error) bool {
	n, ok := err.(net.Error)
	if ok {
		*ne = n
	}
	return ok
}

// do sends one request with the standard client.
func (g *igw) do(method, target string, hdr http.Header, body string) (*http.Response, string) {
	g.t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+g.base+target, rb)
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestAttackRequestTrailersSmuggleHeaders(t *testing.T) {
	smuggled := []string{"X-Original-Url", "X-Gatehouse-Subject", "X-Gatehouse-Roles", "X-Forwarded-For"}
	send := func(g *igw) rawResp {
		body := `{"name":"a"}`
		msg := "POST /items HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\nTrailer: X-Original-URL, X-Gatehouse-Subject, X-Gatehouse-Roles, X-Forwarded-For, X-Checksum\r\n" +
			"Connection: close\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n", len(body), body) +
			"X-Original-URL: /admin\r\nX-Gatehouse-Subject: admin\r\nX-Gatehouse-Roles: admin\r\nX-Forwarded-For: 10.0.0.1\r\nX-Checksum: abc\r\n\r\n"
		res, _ := g.rawExchange(msg)
		return res
	}
	t.Run("dropped by default", func(t *testing.T) {
		g := startIntegrity(t, "", "")
		res := send(g)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", res.StatusCode, res.body)
		}
		got := g.lastSeen()
		if got == nil || got.Body != `{"name":"a"}` {
			t.Fatalf("upstream got %+v", got)
		}
		for _, k := range append(smuggled, "X-Checksum") {
			if v := got.Trailer.Get(k); v != "" {
				t.Errorf("trailer %s = %q reached the upstream", k, v)
			}
			if k != "X-Forwarded-For" && got.Header.Get(k) != "" {
				t.Errorf("header %s = %q reached the upstream", k, got.Header.Get(k))
			}
		}
		if n := familySum(t, g.srv, "gatehouse_request_trailers_dropped_total"); n != 5 {
			t.Errorf("gatehouse_request_trailers_dropped_total = %v, want 5", n)
		}
	})
	t.Run("allow list", func(t *testing.T) {
		g := startIntegrity(t, "", "request:\n  allow_trailers: [x-checksum]\n")
		if res := send(g); res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", res.StatusCode, res.body)
		}
		got := g.lastSeen()
		if v := got.Trailer.Get("X-Checksum"); v != "abc" {
			t.Errorf("allowed trailer X-Checksum = %q, want abc", v)
		}
		for _, k := range smuggled {
			if v := got.Trailer.Get(k); v != "" {
				t.Errorf("trailer %s = %q reached the upstream", k, v)
			}
		}
	})
	t.Run("identity names refused in config", func(t *testing.T) {
		for _, name := range []string{"X-Gatehouse-Subject", "x_gatehouse_roles", "X-Original-URL", "X-Forwarded-Host", "Content-Length", "Authorization"} {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "spec.yaml"), integritySpec)
			writeFile(t, filepath.Join(dir, "g.yaml"), "upstream: http://127.0.0.1:1\nspec: spec.yaml\nrequest:\n  allow_trailers: [\""+name+"\"]\n")
			_, err := NewServer(context.Background(), ServerOptions{ConfigPath: filepath.Join(dir, "g.yaml")})
			if err == nil || !strings.Contains(err.Error(), "request.allow_trailers[0]") {
				t.Errorf("allow_trailers [%s]: err = %v, want a config error at request.allow_trailers[0]", name, err)
			}
		}
	})
}

// familySum sums the samples of a counter family in the server's registry.
func familySum(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestAttackConnectionHeaderDeletesGatewayHeaders(t *testing.T) {
	g := startIntegrity(t, "", "")
	auth := "Bearer " + g.token("alice")
	for _, tc := range []struct {
		name, conn string
		want       int
	}{
		{"identity and request id", "X-Gatehouse-Subject, X-Request-Id", 400},
		{"content type", "Content-Type", 400},
		{"case and spacing", "keep-alive,x-gatehouse-subject", 400},
		{"authorization", "Authorization", 400},
		{"configured identity header", "X-GATEHOUSE-ROLES", 400},
		{"close", "close", 201},
		{"keep-alive", "Keep-Alive", 201},
		{"te", "TE", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := g.hits.Load()
			hdr := http.Header{"Authorization": {auth}, "Content-Type": {"application/json"}, "Connection": {tc.conn}}
			if tc.conn == "TE" {
				hdr["Te"] = []string{"trailers"}
			}
			res, body := g.do("POST", "/items", hdr, `{"name":"a"}`)
			if res.StatusCode != tc.want {
				t.Fatalf("Connection: %s -> %d, want %d: %s", tc.conn, res.StatusCode, tc.want, body)
			}
			if tc.want != 201 {
				if g.hits.Load() != before {
					t.Fatal("refused request reached the upstream")
				}
				return
			}
			got := g.lastSeen()
			if got.Header.Get("X-Gatehouse-Subject") != "alice" || got.Header.Get("X-Request-Id") == "" ||
				got.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("upstream headers lost: %v", got.Header)
			}
		})
	}
}

func TestAttackForwardedHostFromClient(t *testing.T) {
	for _, tc := range []struct {
		name, extra, host, want string
	}{
		{"default: none", "", "evil.example", ""},
		{"allowlisted host", "forwarding:\n  allowed_hosts: [API.example.com]\n", "api.example.com", "api.example.com"},
		{"host not on the list", "forwarding:\n  allowed_hosts: [api.example.com]\n", "evil.example", ""},
		{"configured public host", "forwarding:\n  host: api.example.com\n", "evil.example", "api.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startIntegrity(t, "", tc.extra)
			res, _ := g.rawExchange("GET /items/1 HTTP/1.1\r\nHost: " + tc.host + "\r\nX-Forwarded-Host: evil2.example\r\nConnection: close\r\n\r\n")
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, res.body)
			}
			if got := g.lastSeen().Header.Values("X-Forwarded-Host"); strings.Join(got, ",") != tc.want {
				t.Fatalf("upstream X-Forwarded-Host = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResponseHeadersAddRemoveAndNoStore(t *testing.T) {
	g := startIntegrity(t, "", "")
	g.respond.Store(ptr(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Debug-Sql", "SELECT 1")
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	// Anonymous request, no credentials: a shared cache would keep it.
	res, _ := g.do("GET", "/items/1", nil, "")
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("strict preset: Cache-Control = %q on an anonymous response, want no-store", got)
	}
	// An error response too.
	res, _ = g.do("GET", "/nope", nil, "")
	if res.StatusCode != 404 || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("404: Cache-Control = %q", res.Header.Get("Cache-Control"))
	}

	g2 := startIntegrity(t, "", "headers:\n  add: {X-Frame-Options: DENY}\n  remove: [X-Debug-Sql]\n")
	g2.respond.Store(g.respond.Load())
	res, _ = g2.do("GET", "/items/1", nil, "")
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Debug-Sql") != "" {
		t.Errorf("headers.add/remove: X-Frame-Options %q, X-Debug-Sql %q", res.Header.Get("X-Frame-Options"), res.Header.Get("X-Debug-Sql"))
	}
	g3 := startIntegrity(t, "", "headers:\n  add: {Cache-Control: \"public, max-age=60\"}\n")
	g3.respond.Store(g.respond.Load())
	if res, _ = g3.do("GET", "/items/1", nil, ""); res.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("headers.add Cache-Control = %q, want it to replace the preset", res.Header.Get("Cache-Control"))
	}
	for _, bad := range []string{"  add: {Content-Length: \"0\"}\n", "  remove: [Transfer-Encoding]\n", "  add: {\"X-A\": \"a\\r\\nSet-Cookie: x\"}\n", "  add: {\"Bad Name\": x}\n"} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "spec.yaml"), integritySpec)
		writeFile(t, filepath.Join(dir, "g.yaml"), "upstream: http://127.0.0.1:1\nspec: spec.yaml\nheaders:\n"+bad)
		if _, err := NewServer(context.Background(), ServerOptions{ConfigPath: filepath.Join(dir, "g.yaml")}); err == nil || !strings.Contains(err.Error(), "headers.") {
			t.Errorf("headers %q: err = %v, want a config error", bad, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestAttackAdminEndpointsWithoutToken(t *testing.T) {
	t.Run("non-loopback admin without a token refuses to start", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "spec.yaml"), integritySpec)
		writeFile(t, filepath.Join(dir, "g.yaml"), "upstream: http://127.0.0.1:1\nspec: spec.yaml\nadmin: \"0.0.0.0:9090\"\n")
		_, err := NewServer(context.Background(), ServerOptions{ConfigPath: filepath.Join(dir, "g.yaml")})
		if err == nil || !strings.Contains(err.Error(), "admin_auth") {
			t.Fatalf("NewServer = %v, want a refusal naming admin_auth", err)
		}
		writeFile(t, filepath.Join(dir, "short"), "abc\n")
		writeFile(t, filepath.Join(dir, "g.yaml"), "upstream: http://127.0.0.1:1\nspec: spec.yaml\nadmin: \"0.0.0.0:9090\"\nadmin_auth: {token_file: short}\n")
		if _, err := NewServer(context.Background(), ServerOptions{ConfigPath: filepath.Join(dir, "g.yaml")}); err == nil {
			t.Fatal("a 3-byte admin token was accepted")
		}
	})
	t.Run("token required when configured", func(t *testing.T) {
		const tok = "s3cret-admin-token-0123456789"
		t.Setenv("GH_TEST_ADMIN_TOKEN", tok)
		g := startIntegrity(t, "", "admin_auth: {token_env: GH_TEST_ADMIN_TOKEN}\n", func(o *ServerOptions) { o.EnableReload = true })
		for _, ep := range []string{"/-/reload", "/-/revoke"} {
			for _, tc := range []struct {
				name, auth string
				ok         bool
			}{
				{"none", "", false},
				{"wrong", "Bearer " + tok + "x", false},
				{"prefix", "Bearer " + tok[:10], false},
				{"basic", "Basic " + tok, false},
				{"lower-case scheme", "bearer " + tok, false},
				{"right", "Bearer " + tok, true},
			} {
				req, _ := http.NewRequest("POST", g.admin+ep, strings.NewReader(`{"sub":"integrity-admin-test"}`))
				req.Header.Set("Content-Type", "application/json")
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if got := res.StatusCode != http.StatusUnauthorized; got != tc.ok {
					t.Errorf("POST %s with %s token: status %d", ep, tc.name, res.StatusCode)
				}
			}
		}
	})
}

// TestAttackQuerySemicolonSmuggling: "?limit=5;limit=100000" made query
// validation give up (with detect_injection off) and reached the upstream
// as sent, past maximum: 100. The upstream must get exactly the validated
// query, and every ambiguous spelling is refused in the route stage,
// whatever optional stage is on.
func TestAttackQuerySemicolonSmuggling(t *testing.T) {
	for _, extra := range []string{
		"request:\n  detect_injection: false\n",
		"request:\n  validate: false\n",
	} {
		g := startIntegrity(t, "", extra)
		for _, tc := range []struct {
			name, query string
			want        int
			upstream    string // expected upstream RequestURI when 200
		}{
			{"semicolon", "limit=5;limit=100000", 400, ""},
			{"semicolon alone", "limit=5;", 400, ""},
			{"bad escape", "limit=5&q=%zz", 400, ""},
			{"invalid utf-8", "q=%ff", 400, ""},
			{"empty name", "=5", 400, ""},
			{"flood", strings.Repeat("a=1&", 1001) + "a=1", 400, ""},
			{"canonical forwarded", "q=a%20b+c&limit=%35", 200, "/items?q=a+b+c&limit=5"},
			{"escaped semicolon stays data", "q=a%3Bb", 200, "/items?q=a%3Bb"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := g.hits.Load()
				res, _ := g.rawExchange("GET /items?" + tc.query + " HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
				if res.StatusCode != tc.want {
					t.Fatalf("%s: ?%.60s -> %d, want %d: %s", extra, tc.query, res.StatusCode, tc.want, res.body)
				}
				if tc.want != 200 {
					if g.hits.Load() != before {
						t.Fatal("refused query reached the upstream")
					}
					return
				}
				if got := g.lastSeen().RequestURI; got != tc.upstream {
					t.Fatalf("upstream got %q, want %q", got, tc.upstream)
				}
			})
		}
	}
}

// TestAttackQueryNumberSpellings: an integer query parameter takes the same
// number grammar as path and form parameters and JSON (jsonx.ParseNumber).
func TestAttackQueryNumberSpellings(t *testing.T) {
	g := startIntegrity(t, "", "request:\n  detect_injection: false\n")
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/items?limit=5", 200},
		{"/items?limit=5.0", 400},
		{"/items?limit=1e1", 400},
		{"/items?limit=05", 400},
		{"/items?limit=%2B5", 400},
		{"/items?limit=-0", 400},
		{"/items?limit=0x10", 400},
		{"/items?limit=101", 400},
		{"/items?limit=99999999999999999999", 400},
		{"/items?price=1.5", 200},
		{"/items?price=1e2", 200},
		{"/items?price=.5", 400},
		{"/items?price=NaN", 400},
		{"/items/-0", 400},
		{"/items/05", 400},
	} {
		before := g.hits.Load()
		res, body := g.do("GET", tc.target, nil, "")
		if res.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d: %s", tc.target, res.StatusCode, tc.want, body)
		}
		if tc.want == 400 && g.hits.Load() != before {
			t.Errorf("GET %s reached the upstream", tc.target)
		}
	}
}

// TestAttackUndeclaredAndRepeatedQuery: request.reject_unknown_query
// refuses undeclared parameters (public operations included); a repeated
// non-array parameter (HTTP parameter pollution: the gateway checks one,
// the upstream uses the other) is always refused.
func TestAttackUndeclaredAndRepeatedQuery(t *testing.T) {
	for _, tc := range []struct {
		name, extra, target string
		want                int
	}{
		{"repeated non-array", "", "/items?limit=5&limit=100000", 400},
		{"repeated array", "", "/items?tags=a&tags=b", 200},
		{"undeclared allowed by default", "", "/items?debug=1", 200},
		{"undeclared refused", "request:\n  reject_unknown_query: true\n", "/items?debug=1", 400},
		{"undeclared on get by id", "request:\n  reject_unknown_query: true\n", "/items/1?admin=true", 400},
		{"undeclared repeated", "request:\n  reject_unknown_query: true\n", "/items?limit=1&x=1&x=2", 400},
		{"declared only", "request:\n  reject_unknown_query: true\n", "/items?limit=1&tags=a&q=x", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startIntegrity(t, "", tc.extra)
			before := g.hits.Load()
			res, body := g.do("GET", tc.target, nil, "")
			if res.StatusCode != tc.want {
				t.Fatalf("GET %s = %d, want %d: %s", tc.target, res.StatusCode, tc.want, body)
			}
			if tc.want == 400 && g.hits.Load() != before {
				t.Fatal("refused request reached the upstream")
			}
		})
	}
}

// TestAttackReadOnlyMassAssignment: PATCH {"role":"admin"} with role
// readOnly reached the upstream even with reject_unknown_properties, on 3.0
// and 3.1; a writeOnly property came back in responses.
func TestAttackReadOnlyMassAssignment(t *testing.T) {
	for _, version := range []string{"3.1.0", "3.0.3"} {
		t.Run(version, func(t *testing.T) {
			g := startIntegrity(t, strings.Replace(integritySpec, "openapi: 3.1.0", "openapi: "+version, 1), "")
			auth := http.Header{"Content-Type": {"application/json"}}
			for _, tc := range []struct {
				body, field string
			}{
				{`{"role":"admin"}`, "/role"},
				{`{"name":"a","id":7}`, "/id"},
				{`{"owner":{"name":"x","created":"2020"}}`, "/owner/created"},
				{`{"tags":[{"name":"x"},{"created":"2020"}]}`, "/tags/1/created"},
				{`{"name":"ok","secret":"pw"}`, ""},
			} {
				before := g.hits.Load()
				res, body := g.do("PATCH", "/items/1", auth, tc.body)
				if tc.field == "" {
					if res.StatusCode != 200 {
						t.Errorf("PATCH %s = %d, want 200: %s", tc.body, res.StatusCode, body)
					}
					continue
				}
				if res.StatusCode != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
					t.Errorf("PATCH %s = %d %s, want 400 naming %s", tc.body, res.StatusCode, body, tc.field)
				}
				if g.hits.Load() != before {
					t.Errorf("PATCH %s reached the upstream", tc.body)
				}
			}
			g.respond.Store(ptr(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":1,"name":"a","secret":"hunter2","tags":[{"name":"t","created":"c"}]}`)
			}))
			res, body := g.do("GET", "/items/1", nil, "")
			if res.StatusCode != 200 || strings.Contains(body, "hunter2") || !strings.Contains(body, `"created":"c"`) {
				t.Errorf("GET = %d %s: writeOnly secret must be stripped, readOnly kept", res.StatusCode, body)
			}
		})
	}
}
