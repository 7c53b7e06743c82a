package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/problem"
)

const testSpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /users:
    post:
      operationId: createUser
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses: {"200": {description: ok}, "201": {description: ok}}
  /users/{user_id}:
    parameters:
      - {name: user_id, in: path, required: true, schema: {type: string}}
    get:
      operationId: getUser
      responses: {"200": {description: ok}}
    delete:
      operationId: deleteUser
      responses: {"204": {description: ok}}
  /orders/{order_id}/items/{item_id}:
    get:
      operationId: getOrderItem
      parameters:
        - {name: order_id, in: path, required: true, schema: {type: string}}
        - {name: item_id, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
  /boom:
    get:
      operationId: boom
      responses: {"200": {description: ok}}
  /slow:
    get:
      operationId: slow
      responses: {"200": {description: ok}}
`

const leak = "goroutine 7 [running]:\nmain.boom()\n\t/srv/app/boom.go:13\nERROR: relation \"users_secret\" does not exist (SQLSTATE 42P01) SELECT password_hash FROM users_secret"

// upstream is a test API that records what it received.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	last     *http.Request
	started  chan struct{} // /slow: signalled when a request arrives
	release  chan struct{} // /slow: closed to let it finish
	requests atomic.Int64
}

func (u *upstream) lastReq() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{started: make(chan struct{}, 16), release: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		u.mu.Lock()
		u.last = r.Clone(context.Background())
		u.mu.Unlock()
		w.Header().Set("Server", "Apache/2.4")
		w.Header().Set("X-Powered-By", "PHP/5")
		switch r.URL.Path {
		case "/boom":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(500)
			_, _ = io.WriteString(w, leak)
			return
		case "/slow":
			u.started <- struct{}{}
			<-u.release
		case "/users":
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(func() {
		select {
		case <-u.release:
		default:
			close(u.release)
		}
		u.Close()
	})
	return u
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// lines returns the JSON log lines with msg.
func (s *syncBuf) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type env struct {
	t        *testing.T
	dir      string
	cfgPath  string
	up       *upstream
	srv      *Server
	base     string // public URL
	admin    string // admin URL
	logs     *syncBuf
	cancel   context.CancelFunc
	done     chan error
	reloaded chan error
}

func configYAML(upstream, extra string) string {
	return fmt.Sprintf(`listen: "127.0.0.1:0"
admin: "127.0.0.1:1"  # replaced by a test listener
upstream: %q
spec: spec.yaml
authz:
  default: public
limits:
  max_body: 1KiB
timeouts:
  shutdown: 5s
cors:
  allow_origins: ["https://app.example.com"]
  allow_credentials: true
%s`, upstream, extra)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as editors and ConfigMaps do
		t.Fatal(err)
	}
}

type envOpt func(*ServerOptions)

func start(t *testing.T, extra string, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), up: newUpstream(t), logs: &syncBuf{}, reloaded: make(chan error, 64)}
	e.cfgPath = filepath.Join(e.dir, "gatehouse.yaml")
	writeFile(t, filepath.Join(e.dir, "spec.yaml"), testSpec)
	writeFile(t, e.cfgPath, configYAML(e.up.URL, extra))
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	so := ServerOptions{
		ConfigPath: e.cfgPath, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		PublicListener: pub, AdminListener: adm, EnableReload: true,
		OnReload: func(err error) { e.reloaded <- err },
	}
	for _, o := range opts {
		o(&so)
	}
	e.srv, err = NewServer(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	e.base, e.admin = "http://"+pub.Addr().String(), "http://"+adm.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-e.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

func (e *env) do(method, path string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// raw sends a request line as is (no client-side path cleaning).
func (e *env) raw(reqLine string, hdr ...string) (int, string) {
	e.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	msg := reqLine + " HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n"
	for _, h := range hdr {
		msg += h + "\r\n"
	}
	_, _ = io.WriteString(c, msg+"\r\n")
	b, _ := io.ReadAll(c)
	var code int
	fmt.Sscanf(string(b), "HTTP/1.1 %d", &code)
	return code, string(b)
}

func problemOf(t *testing.T, body string) problem.Details {
	t.Helper()
	var d problem.Details
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("not a problem body: %q", body)
	}
	if d.RequestID == "" {
		t.Fatalf("problem without request_id: %s", body)
	}
	return d
}

func TestRouting(t *testing.T) {
	e := start(t, "")
	for _, tc := range []struct {
		name, line string
		want       int
		allow      string
	}{
		{"declared", "GET /users/1", 200, ""},
		{"undeclared", "GET /admin", 404, ""},
		{"undeclared under prefix", "GET /users/1/secret", 404, ""},
		{"wrong method", "PUT /users/1", 405, "DELETE, GET"},
		{"lowercase method", "get /users/1", 405, "DELETE, GET"},
		{"nul byte", "GET /users/1%00", 400, ""},
		{"matrix param", "GET /users/1;admin", 400, ""},
		{"encoded slash", "GET /users/1%2fadmin", 400, ""},
		{"asterisk form", "OPTIONS *", 400, ""},
		{"absolute form", "GET http://evil.example/users/1", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.requests.Load()
			code, resp := e.raw(tc.line)
			if code != tc.want {
				t.Fatalf("%s = %d, want %d\n%s", tc.line, code, tc.want, resp)
			}
			if tc.allow != "" {
				i := strings.Index(resp, "Allow: ")
				if i < 0 {
					t.Fatalf("Allow header missing:\n%s", resp)
				}
				line := resp[i+len("Allow: "):]
				line = line[:strings.Index(line, "\r\n")]
				got := strings.Split(line, ", ")
				sort.Strings(got)
				if strings.Join(got, ", ") != tc.allow {
					t.Fatalf("Allow = %q, want the methods %s", line, tc.allow)
				}
			}
			if tc.want != 200 {
				if e.up.requests.Load() != before {
					t.Fatal("rejected request reached the upstream")
				}
				body := resp[strings.Index(resp, "\r\n\r\n")+4:]
				problemOf(t, body)
				if !strings.Contains(resp, "Content-Type: application/problem+json") {
					t.Fatalf("not problem+json:\n%s", resp)
				}
			}
		})
	}
}

func TestForwardsCanonicalPathAndStripsOverrides(t *testing.T) {
	e := start(t, "")
	code, resp := e.raw("GET /orders/%41b/items/x%7e?q=%20&x=1",
		"X-HTTP-Method-Override: DELETE", "X-Original-URL: /admin", "X-Rewrite-URL: /admin",
		"X_Original_URL: /admin", "X-Gatehouse-Subject: admin", "X_Gatehouse_Roles: admin")
	if code != 200 {
		t.Fatalf("status %d\n%s", code, resp)
	}
	got := e.up.lastReq()
	if got.RequestURI != "/orders/Ab/items/x~?q=+&x=1" { // canonical path and query
		t.Fatalf("upstream received %q, want the canonical path", got.RequestURI)
	}
	for k := range got.Header {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.Contains(n, "override") || strings.Contains(n, "original-url") || strings.Contains(n, "rewrite-url") ||
			strings.HasPrefix(n, "x-gatehouse-") {
			t.Errorf("header %s reached the upstream", k)
		}
	}
	if got.Method != "GET" {
		t.Fatalf("method %s", got.Method)
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	e := start(t, "")
	res, _ := e.do("GET", "/users/1", map[string]string{"Origin": "https://app.example.com", "Authorization": "Bearer x"}, nil)
	h := res.Header
	for k, want := range map[string]string{
		"X-Content-Type-Options":           "nosniff",
		"Content-Security-Policy":          "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":                  "no-referrer",
		"Cache-Control":                    "no-store",
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Server":                           "",
		"X-Powered-By":                     "",
		"Strict-Transport-Security":        "", // plain HTTP
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("Vary: Origin missing")
	}
	if len(h.Get("X-Request-Id")) != 32 {
		t.Errorf("X-Request-Id = %q", h.Get("X-Request-Id"))
	}
	t.Run("preflight allowed", func(t *testing.T) {
		res, _ := e.do("OPTIONS", "/users/1", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"}, nil)
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
		}
	})
	t.Run("preflight evil origin", func(t *testing.T) {
		res, _ := e.do("OPTIONS", "/users/1", map[string]string{"Origin": "https://app.example.com.evil.com", "Access-Control-Request-Method": "GET"}, nil)
		if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
		}
	})
	t.Run("request id", func(t *testing.T) {
		for _, tc := range []struct{ in, want string }{
			{"abc-123_x.y", "abc-123_x.y"},
			{"bad id\" forged=1", ""},
			{strings.Repeat("a", 65), ""},
		} {
			res, _ := e.do("GET", "/users/1", map[string]string{"X-Request-Id": tc.in}, nil)
			got := res.Header.Get("X-Request-Id")
			if tc.want != "" && got != tc.want {
				t.Errorf("X-Request-Id %q -> %q, want kept", tc.in, got)
			}
			if tc.want == "" && (got == tc.in || len(got) != 32) {
				t.Errorf("X-Request-Id %q -> %q, want replaced", tc.in, got)
			}
			if up := e.up.lastReq().Header.Get("X-Request-Id"); up != got {
				t.Errorf("upstream saw request id %q, client %q", up, got)
			}
		}
	})
	// Two IDs (or one in a lower-case spelling beside a canonical one):
	// upstream and client see exactly one value, the same.
	t.Run("request id duplicates", func(t *testing.T) {
		for _, ids := range [][2]string{{"first-id", "second-id"}, {"first-id", "bad id"}, {"bad id", "second-id"}} {
			req, err := http.NewRequest("GET", e.base+"/users/1", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header["X-Request-Id"] = []string{ids[0], ids[1]}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			got := res.Header.Values("X-Request-Id")
			up := e.up.lastReq().Header.Values("X-Request-Id")
			if len(got) != 1 || len(up) != 1 || got[0] != up[0] {
				t.Fatalf("ids %q: client got %q, upstream saw %q; want one and the same", ids, got, up)
			}
			if got[0] == ids[1] || strings.ContainsAny(got[0], " \\") {
				t.Errorf("ids %q: kept %q", ids, got[0])
			}
		}
	})
}

func TestUpstream5xxRewrittenAndLogged(t *testing.T) {
	e := start(t, "")
	res, body := e.do("GET", "/boom", nil, nil)
	if res.StatusCode != 500 || res.Header.Get("Content-Type") != problem.ContentType {
		t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, s := range []string{"goroutine", "boom.go", "SQLSTATE", "password_hash", "SELECT"} {
		if strings.Contains(body, s) {
			t.Fatalf("client body leaks %q: %s", s, body)
		}
	}
	d := problemOf(t, body)
	if d.RequestID != res.Header.Get("X-Request-Id") {
		t.Fatalf("body request_id %q != header %q", d.RequestID, res.Header.Get("X-Request-Id"))
	}
	var found bool
	for _, l := range e.logs.lines("upstream error response rewritten") {
		if l["request_id"] == d.RequestID && strings.Contains(fmt.Sprint(l["upstream_body_excerpt"]), "SQLSTATE 42P01") &&
			strings.Contains(fmt.Sprint(l["upstream_body_excerpt"]), "boom.go:13") {
			found = true
		}
	}
	if !found {
		t.Fatalf("upstream detail not logged under %s:\n%s", d.RequestID, e.logs.String())
	}
	var access bool
	for _, l := range e.logs.lines("request") {
		if l["request_id"] == d.RequestID && l["operation_id"] == "boom" && l["status"] == float64(500) {
			access = true
		}
	}
	if !access {
		t.Fatalf("no access line for %s", d.RequestID)
	}
}

func TestAccessLogRedactsSecrets(t *testing.T) {
	e := start(t, "")
	e.do("GET", "/users/1", map[string]string{"Authorization": "Bearer topsecret-token", "Cookie": "session=topsecret-cookie",
		"X-Api-Key": "topsecret-key"}, nil)
	logs := e.logs.String()
	if strings.Contains(logs, "topsecret") {
		t.Fatalf("credentials in the log:\n%s", logs)
	}
	lines := e.logs.lines("request")
	if len(lines) != 1 {
		t.Fatalf("want one access line, got %d", len(lines))
	}
	for _, k := range []string{"request_id", "method", "operation_id", "status", "stage", "reason", "subject", "latency_ms", "bytes", "client_ip", "monitored"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("access line lacks %s: %v", k, lines[0])
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := start(t, "")
	big := strings.Repeat("a", 2048)
	t.Run("content-length", func(t *testing.T) {
		before := e.up.requests.Load()
		res, body := e.do("POST", "/users", map[string]string{"Content-Type": "application/json"}, strings.NewReader(big))
		if res.StatusCode != 413 {
			t.Fatalf("status %d", res.StatusCode)
		}
		problemOf(t, body)
		if e.up.requests.Load() != before {
			t.Fatal("oversized body reached the upstream")
		}
	})
	t.Run("chunked", func(t *testing.T) {
		// An io.Reader of unknown length is sent chunked: no Content-Length to check up front.
		res, body := e.do("POST", "/users", map[string]string{"Content-Type": "application/json"}, io.MultiReader(strings.NewReader(big)))
		if res.StatusCode != 413 {
			t.Fatalf("status %d body %s", res.StatusCode, body)
		}
		problemOf(t, body)
	})
	t.Run("small ok", func(t *testing.T) {
		res, _ := e.do("POST", "/users", map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{"a":1}`))
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestRecoverPanics(t *testing.T) {
	logs := &syncBuf{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	t.Run("generic 500", func(t *testing.T) {
		h := recoverPanics(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("db password is hunter2")
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 500 || strings.Contains(w.Body.String(), "hunter2") {
			t.Fatalf("status %d body %s", w.Code, w.Body)
		}
		if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), "stack") {
			t.Fatalf("panic not logged with stack: %s", logs)
		}
	})
	t.Run("abort handler re-panics", func(t *testing.T) {
		h := recoverPanics(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

func TestAdminEndpointsAndMetrics(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	e := start(t, "", func(o *ServerOptions) { o.Now = now })
	get := func(path string) (int, string) {
		res, err := http.Get(e.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	m := e.srv.metrics
	before := toFloat(m.Requests.WithLabelValues("getUser", "200"))
	blocked := toFloat(m.Blocked.WithLabelValues("route", "no_route"))
	e.do("GET", "/users/7", nil, nil)
	e.do("GET", "/nope", nil, nil)
	if got := toFloat(m.Requests.WithLabelValues("getUser", "200")); got != before+1 {
		t.Fatalf("requests_total{getUser,200} = %v, want %v", got, before+1)
	}
	if got := toFloat(m.Blocked.WithLabelValues("route", "no_route")); got != blocked+1 {
		t.Fatalf("blocked_requests_total{route,no_route} = %v, want %v", got, blocked+1)
	}
	_, metrics := get("/metrics")
	for _, s := range []string{
		`gatehouse_http_requests_total{code="404",operation="unmatched"} 1`,
		`gatehouse_http_request_duration_seconds_bucket{operation="getUser"`,
		"gatehouse_config_last_reload_successful 1",
		"gatehouse_config_last_reload_success_timestamp_seconds 1.7672256e+09",
	} {
		if !strings.Contains(metrics, s) {
			t.Errorf("metrics lack %s", s)
		}
	}
	// Upstream goes away: readyz flips once the cached probe expires.
	e.up.Close()
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz re-probed before the cache expired: %d", code)
	}
	clock.Add(3)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "unreachable") {
		t.Fatalf("readyz with upstream down = %d %s", code, body)
	}
	t.Run("reload endpoint", func(t *testing.T) {
		res, err := http.Post(e.admin+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST /-/reload = %d", res.StatusCode)
		}
		if err := <-e.reloaded; err != nil {
			t.Fatal(err)
		}
		res, _ = http.Get(e.admin + "/-/reload")
		res.Body.Close()
		if res.StatusCode != 405 {
			t.Fatalf("GET /-/reload = %d, want 405", res.StatusCode)
		}
	})
}

func TestGracefulShutdownDrains(t *testing.T) {
	e := start(t, "")
	type result struct {
		code int
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := http.Get(e.base + "/slow")
		if err != nil {
			resc <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		resc <- result{code: res.StatusCode}
	}()
	<-e.up.started // the request is in flight at the upstream
	e.cancel()
	// Wait until the listener is closed: new connections are refused.
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
		if err != nil {
			break
		}
		c.Close()
		runtimeGosched()
	}
	select {
	case err := <-e.done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}
	close(e.up.release)
	r := <-resc
	if r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request: %d %v", r.code, r.err)
	}
	err := <-e.done
	e.done <- err // for the cleanup
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	e := start(t, "", func(o *ServerOptions) { o.Watch = true; o.WatchDebounce = 20 * time.Millisecond })
	var ok, failed atomic.Int64
	var firstFail atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(e.base + "/users/1")
				if err != nil {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, res.Status)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	waitReload := func() error {
		select {
		case err := <-e.reloaded:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("no reload after the file changed")
			return nil
		}
	}
	<-e.srv.watching
	m := e.srv.metrics
	const watched = 20
	for i := 0; i < watched; i++ {
		old := e.srv.Pipeline()
		writeFile(t, e.cfgPath, configYAML(e.up.URL, fmt.Sprintf("log:\n  level: info\nheaders:\n  hsts_max_age: %dh\n", i+1)))
		if err := waitReload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if e.srv.Pipeline() == old {
			t.Fatalf("reload %d did not swap the pipeline", i)
		}
		if got := e.srv.Pipeline().Config().Headers.HSTSMaxAge.D(); got != time.Duration(i+1)*time.Hour {
			t.Fatalf("reload %d: hsts_max_age %v", i, got)
		}
	}
	good := e.srv.Pipeline()
	// A broken config: the old pipeline keeps serving, the metric drops to 0.
	writeFile(t, e.cfgPath, configYAML(e.up.URL, "bogus_key: 1\ncors:\n  allow_origins: [\"*\"]\n"))
	if err := waitReload(); err == nil {
		t.Fatal("broken config reloaded without error")
	}
	if e.srv.Pipeline() != good {
		t.Fatal("a failed reload replaced the pipeline")
	}
	if got := toFloat(m.ReloadOK); got != 0 {
		t.Fatalf("gatehouse_config_last_reload_successful = %v, want 0", got)
	}
	// Keep the load running a little more against the old pipeline.
	target := ok.Load() + 50
	for ok.Load() < target && failed.Load() == 0 {
		runtimeGosched()
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during reloads (first: %v), %d ok", failed.Load(), firstFail.Load(), ok.Load())
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests ran", ok.Load())
	}
	if len(e.logs.lines("config reload failed; the running config keeps serving")) != 1 {
		t.Fatal("failed reload not logged")
	}
	t.Logf("%d requests, 0 failed, across %d file-watch reloads and 1 rejected config", ok.Load(), watched)
}

func TestBuildFailures(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), testSpec)
	for _, tc := range []struct {
		name, extra, wantPath string
	}{
		{"unknown route override", "routes:\n  noSuchOp: {mode: monitor}\n", "routes.noSuchOp"},
		{"missing tls files", "tls:\n  cert_file: nope.pem\n  key_file: nope.key\n", "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "gatehouse.yaml")
			writeFile(t, p, configYAML("http://127.0.0.1:1", tc.extra))
			_, err := NewServer(context.Background(), ServerOptions{ConfigPath: p, Registry: prometheus.NewRegistry(), LogOutput: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tc.wantPath) {
				t.Fatalf("NewServer error = %v, want one at %s", err, tc.wantPath)
			}
		})
	}
}
