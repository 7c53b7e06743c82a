package gateway_test

// Rate-limit integration tests: bypass attempts through the whole gateway
// (in process, injected clock), and two real `gatehouse serve` processes
// sharing one real Redis that is stopped and restarted mid-run.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

const rlSpec = `openapi: 3.0.3
info: { title: rl, version: "1" }
paths:
  /login:
    post:
      operationId: login
      requestBody:
        content:
          application/json:
            schema: { type: object }
      responses: { "200": { description: ok }, "401": { description: bad }, "429": { description: slow } }
  /login2:
    post:
      operationId: login2
      requestBody:
        content:
          application/json:
            schema: { type: object }
      responses: { "200": { description: ok }, "401": { description: bad }, "429": { description: slow } }
  /things:
    get:
      operationId: listThings
      responses: { "200": { description: ok }, "429": { description: slow } }
`

type rlUpstream struct {
	*httptest.Server
	hits   atomic.Int64
	status atomic.Int64
}

func newRLUpstream(t *testing.T) *rlUpstream {
	u := &rlUpstream{}
	u.status.Store(200)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(u.status.Load()))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func rlWriteConfig(t *testing.T, dir, listen, upstream, rateLimits string, extra string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(rlSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	// Anonymous requests are authorized (authz default public) so that the
	// upstream answers; the rate limit runs before authz either way.
	authz := "authz: { default: public }\n"
	if strings.Contains(extra, "authz:") {
		authz = ""
	}
	cfg := fmt.Sprintf("listen: %q\nupstream: %q\nspec: api.yaml\n%s%s\nrate_limits:\n%s\n", listen, upstream, authz, extra, rateLimits)
	p := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type rlClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rlClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rlClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// rlGateway builds the pipeline in process and serves it over real HTTP.
func rlGateway(t *testing.T, up *rlUpstream, rateLimits, extra string, clk *rlClock) *httptest.Server {
	t.Helper()
	path := rlWriteConfig(t, t.TempDir(), "127.0.0.1:0", up.URL, rateLimits, extra)
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	p, err := gateway.Build(context.Background(), cfg, gateway.Deps{Now: clk.Now})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

func rlDo(t *testing.T, method, url string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// rawStatus sends a request line byte for byte (no client-side cleaning).
func rawStatus(t *testing.T, srv *httptest.Server, method, target, body string) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, target, len(body), body)
	b, _ := io.ReadAll(c)
	var code int
	if _, err := fmt.Sscanf(string(b), "HTTP/1.1 %d", &code); err != nil {
		t.Fatalf("bad response to %s %q: %q", method, target, b)
	}
	return code
}

func TestRateLimitPathSpellingBypass(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := rlGateway(t, up, `  limits:
    - { name: login-ip, operations: [login], key: ip, rate: "3/min", burst: 3 }`, "", clk)
	for i := range 3 {
		if code := rawStatus(t, srv, "POST", "/login", `{"username":"a"}`); code != 200 {
			t.Fatalf("login %d: %d", i, code)
		}
	}
	hits := up.hits.Load()
	for _, target := range []string{"/login", "/Login", "/LOGIN", "/login/", "/login;x", "/login;jsessionid=1", "/%6Cogin", "/%6c%6f%67%69%6e",
		"//login", "/./login", "/x/../login", "/login%2F", "/login?x=1", "/login#x", "/login%00", "/login%20", "/login.json"} {
		t.Run(target, func(t *testing.T) {
			code := rawStatus(t, srv, "POST", target, `{"username":"a"}`)
			if code == 200 || code/100 == 5 {
				t.Fatalf("POST %s = %d: a spelling variant escaped the login bucket", target, code)
			}
			t.Logf("POST %s -> %d", target, code)
		})
	}
	if up.hits.Load() != hits {
		t.Fatalf("upstream saw %d extra requests after the bucket was empty", up.hits.Load()-hits)
	}
	// The 429 through the gateway is a generic problem with the limit headers.
	resp := rlDo(t, "POST", srv.URL+"/login", nil, `{}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" ||
		resp.Header.Get("RateLimit-Policy") != `"login-ip";q=3;w=60` || resp.Header.Get("RateLimit") != `"login-ip";r=0;t=20` ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("429 = %d %v", resp.StatusCode, resp.Header)
	}
	clk.Add(20 * time.Second)
	if code := rawStatus(t, srv, "POST", "/login", `{}`); code != 200 {
		t.Fatalf("after Retry-After: %d", code)
	}
}

func TestRateLimitXFFSpoofing(t *testing.T) {
	limits := `  limits:
    - { name: per-ip, key: ip, rate: "2/min", burst: 2 }`
	t.Run("untrusted peer: X-Forwarded-For ignored", func(t *testing.T) {
		up := newRLUpstream(t)
		srv := rlGateway(t, up, limits, "", &rlClock{t: time.Unix(1e9, 0)})
		ok := 0
		for i := range 20 {
			spoof := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i), "X-Real-IP": fmt.Sprintf("198.51.100.%d", i),
				"Forwarded": fmt.Sprintf("for=192.0.2.%d", i)}
			if rlDo(t, "GET", srv.URL+"/things", spoof, "").StatusCode == 200 {
				ok++
			}
		}
		if ok != 2 {
			t.Fatalf("%d of 20 requests with rotating spoofed X-Forwarded-For passed, want 2", ok)
		}
	})
	t.Run("trusted proxy: right-most untrusted address", func(t *testing.T) {
		up := newRLUpstream(t)
		srv := rlGateway(t, up, limits, `trusted_proxies: ["127.0.0.0/8", "10.0.0.0/8"]`, &rlClock{t: time.Unix(1e9, 0)})
		codes := func(xffs ...string) string {
			var s []string
			for _, x := range xffs {
				s = append(s, strconv.Itoa(rlDo(t, "GET", srv.URL+"/things", map[string]string{"X-Forwarded-For": x}, "").StatusCode))
			}
			return strings.Join(s, " ")
		}
		// The client prepends fake hops; the address our trusted proxy (10.x)
		// saw is the right-most untrusted one: 203.0.113.7 every time.
		if got := codes("1.1.1.1, 203.0.113.7, 10.0.0.1", "2.2.2.2, 203.0.113.7", "203.0.113.7, 10.1.1.1"); got != "200 200 429" {
			t.Fatalf("spoofed prefixes: %s, want 200 200 429", got)
		}
		// A different real client behind the proxy has its own bucket.
		if got := codes("203.0.113.8, 10.0.0.1"); got != "200" {
			t.Fatalf("other client: %s", got)
		}
	})
}

func TestRateLimitLoginThroughGateway(t *testing.T) {
	up := newRLUpstream(t)
	up.status.Store(401)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, up, `  login:
    operations: [login]
    account_field: /username
    per_ip: { rate: "100/min" }
    lockout: { after_failures: 3, base: 1m, max: 1h }`, `trusted_proxies: ["127.0.0.0/8"]`, clk)
	for i := range 3 {
		xff := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)}
		if c := rlDo(t, "POST", srv.URL+"/login", xff, `{"username":"victim","password":"p`+strconv.Itoa(i)+`"}`).StatusCode; c != 401 {
			t.Fatalf("attempt %d: %d", i, c)
		}
	}
	hits := up.hits.Load()
	resp := rlDo(t, "POST", srv.URL+"/login", map[string]string{"X-Forwarded-For": "198.51.100.99"}, `{"username":"VICTIM"}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || up.hits.Load() != hits {
		t.Fatalf("locked account: %d Retry-After %q, upstream hits +%d", resp.StatusCode, resp.Header.Get("Retry-After"), up.hits.Load()-hits)
	}
}

// TestRateLimitLockoutIgnoresGatehouseRejections: an attacker sends the
// victim's username in requests gatehouse's authz rejects (403 before the
// upstream). They must not count as failed logins, or anyone could lock any
// account without ever reaching the upstream.
func TestRateLimitLockoutIgnoresGatehouseRejections(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, up, `  login:
    operations: [login, login2]
    account_field: /username
    lockout: { after_failures: 3, base: 1m, max: 1h }`, `authz:
  default: public
  rules:
    login: { roles: [admin] }`, clk)
	// /login needs the admin role: anonymous attempts get gatehouse's own
	// 401/403 from authz. /login2 (no rule) reaches the upstream. Both are
	// login operations sharing the account's lockout.
	for i := range 10 {
		if c := rlDo(t, "POST", srv.URL+"/login", nil, `{"username":"victim","password":"x"}`).StatusCode; c != 401 && c != 403 {
			t.Fatalf("attack %d: %d, want gatehouse's 401/403", i, c)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Fatalf("rejected requests reached the upstream %d times", n)
	}
	if c := rlDo(t, "POST", srv.URL+"/login2", nil, `{"username":"victim","password":"right"}`).StatusCode; c != 200 {
		t.Fatalf("victim after 10 gatehouse rejections: %d, want 200 (not locked)", c)
	}
	// The upstream's own 401s still lock the account.
	up.status.Store(401)
	for range 3 {
		rlDo(t, "POST", srv.URL+"/login2", nil, `{"username":"victim","password":"wrong"}`)
	}
	if c := rlDo(t, "POST", srv.URL+"/login2", nil, `{"username":"victim"}`).StatusCode; c != 429 {
		t.Fatalf("after 3 upstream 401s: %d, want 429", c)
	}
}

// TestRateLimitCELKeyThroughGateway: a cel: key from config, through the
// whole pipeline: per-tenant buckets, header-name case folded, and requests
// whose expression fails share one error bucket (limited, not unlimited).
func TestRateLimitCELKeyThroughGateway(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, up, `  limits:
    - { name: per-tenant, operations: [listThings], key: 'cel:request.headers["x-tenant"] + "/" + request.operation', rate: "2/min" }`, "", clk)
	get := func(tenant string) int {
		h := map[string]string{}
		if tenant != "" {
			h["X-Tenant"] = tenant
		}
		return rlDo(t, "GET", srv.URL+"/things", h, "").StatusCode
	}
	if got := []int{get("a"), get("a"), get("a"), get("b")}; fmt.Sprint(got) != "[200 200 429 200]" {
		t.Fatalf("tenant a x3, b: %v, want [200 200 429 200]", got)
	}
	if got := []int{get(""), get(""), get("")}; fmt.Sprint(got) != "[200 200 429]" {
		t.Fatalf("no tenant header (expression error) x3: %v, want [200 200 429]: one fixed error bucket", got)
	}
	// A long header value is a bounded key (hashed), in its own bucket...
	if c := get(strings.Repeat("t", 2000)); c != 200 {
		t.Fatalf("2 kB tenant: %d", c)
	}
	// ...and one so long that concatenating it exceeds the cost limit lands
	// in the (already exhausted) error bucket: limited, not unlimited.
	if c := get(strings.Repeat("t", 8000)); c != 429 {
		t.Fatalf("8 kB tenant: %d, want 429 from the error bucket", c)
	}
}

// ---- two gateway processes, one real Redis ----

type rlRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func rlFreePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func rlStartRedis(t *testing.T) *rlRedis {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not installed but GATEHOUSE_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not installed; skipping the multi-process Redis test")
	}
	r := &rlRedis{t: t, port: rlFreePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *rlRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *rlRedis) start() {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	rlWaitFor(r.t, "redis up", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (r *rlRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *rlRedis) dbsize() int64 {
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	n, _ := c.DBSize(context.Background()).Result()
	return n
}

// rlWaitFor polls cond until it holds (readiness of real processes, not
// timing of the behaviour under test).
func rlWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type rlProc struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

var rlHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 10 * time.Second}

func rlServe(t *testing.T, bin, upstream, redisURL, onErr string) *rlProc {
	t.Helper()
	dir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(rlFreePort(t))
	cfg := rlWriteConfig(t, dir, listen, upstream, fmt.Sprintf(`  store: %q
  on_store_error: %s
  backoff: 200ms
  redis: { dial_timeout: 200ms, read_timeout: 200ms, write_timeout: 200ms, timeout: 500ms }
  limits:
    - { name: shared, operations: [listThings], key: operation, rate: "100/min", burst: 100 }`, redisURL, onErr), "")
	p := &rlProc{url: "http://" + listen, log: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "serve", "-c", cfg, "--no-watch")
	p.cmd.Stderr = &rlSyncWriter{w: p.log}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", listen, p.log.String())
		}
	})
	// /ready-probe is not in the spec: 404 from the router, before any limit.
	rlWaitFor(t, "gateway "+listen, func() bool {
		resp, err := rlHTTP.Get(p.url + "/ready-probe")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 404
	})
	return p
}

type rlSyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *rlSyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// burst sends n GET /things split round-robin over gws with 8 workers and
// returns the count per status code and the elapsed time.
func rlBurst(t *testing.T, gws []*rlProc, n int) (map[int]int, time.Duration) {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := rlHTTP.Get(gws[i%len(gws)].url + "/things")
				code := -1
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return codes, time.Since(start)
}

// allowedSlack is how many extra requests a 100/min limit legitimately
// refills (one per 600ms) while a burst of requests is being sent.
func allowedSlack(d time.Duration) int { return int(d / (600 * time.Millisecond)) }

func TestRateLimitTwoGatewaysSharedRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs gateway processes")
	}
	rd := rlStartRedis(t)
	bin := gatehouseProcess(t)
	up := newRLUpstream(t)
	redisURL := "redis://" + rd.addr() + "/0"

	for _, mode := range []string{"local", "allow", "deny"} {
		t.Run("on_store_error="+mode, func(t *testing.T) {
			if rd.cmd == nil {
				rd.start()
			}
			c := redis.NewClient(&redis.Options{Addr: rd.addr()})
			_ = c.FlushAll(context.Background()).Err()
			c.Close()
			gws := []*rlProc{rlServe(t, bin, up.URL, redisURL, mode), rlServe(t, bin, up.URL, redisURL, mode)}

			// 1. One shared limit: 300 requests over two processes, 100 ± 1 pass.
			codes, el := rlBurst(t, gws, 300)
			t.Logf("redis up: %v in %v", codes, el)
			if ok := codes[200]; ok < 99 || ok > 101+allowedSlack(el) || codes[200]+codes[429] != 300 {
				t.Fatalf("redis up: %v in %v; want 100±1 (+%d refilled) 200s, the rest 429", codes, el, allowedSlack(el))
			}

			// 2. Redis dies mid-run.
			rd.stop()
			codes, el = rlBurst(t, gws, 300)
			t.Logf("redis down: %v in %v", codes, el)
			switch mode {
			case "local": // each node counts alone: up to 100 each
				if ok := codes[200]; ok < 198 || ok > 202+2*allowedSlack(el) || codes[200]+codes[429] != 300 {
					t.Fatalf("local: %v; want ~200 (100 per node) 200s, the rest 429", codes)
				}
			case "allow":
				if codes[200] != 300 {
					t.Fatalf("allow: %v; want all 300 through", codes)
				}
			case "deny":
				if codes[503] != 300 {
					t.Fatalf("deny: %v; want all 503", codes)
				}
			}

			// 3. Redis returns (same port, empty): the gateways go back to it
			// by themselves, and the limit is shared again.
			rd.start()
			// Each node must be back on Redis by itself: after a flush, one
			// request through that node alone must create the key in Redis.
			fc := redis.NewClient(&redis.Options{Addr: rd.addr()})
			defer fc.Close()
			for i, g := range gws {
				rlWaitFor(t, fmt.Sprintf("gateway %d to use redis again", i), func() bool {
					_ = fc.FlushAll(context.Background()).Err()
					resp, err := rlHTTP.Get(g.url + "/things")
					if err != nil {
						return false
					}
					resp.Body.Close()
					return resp.StatusCode == 200 && rd.dbsize() == 1
				})
			}
			c = redis.NewClient(&redis.Options{Addr: rd.addr()})
			_ = c.FlushAll(context.Background()).Err()
			c.Close()
			codes, el = rlBurst(t, gws, 300)
			t.Logf("redis back: %v in %v", codes, el)
			if ok := codes[200]; ok < 99 || ok > 101+allowedSlack(el) || codes[200]+codes[429] != 300 {
				t.Fatalf("redis back: %v in %v; want 100±1 again", codes, el)
			}
		})
	}
}

// TestReadyzProbesRateLimitRedis: /readyz PINGs the rate limiter's Redis (a
// real redis-server this test starts and kills). With on_store_error deny
// an outage makes the gateway not ready; with local or allow it stays ready
// and reports the store degraded. gatehouse_ratelimit_store_up follows.
func TestReadyzProbesRateLimitRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, tt := range []struct {
		onErr     string
		downCode  int
		downState string
	}{
		{"deny", 503, "unreachable"},
		{"local", 200, "degraded"},
		{"allow", 200, "degraded"},
	} {
		t.Run(tt.onErr, func(t *testing.T) {
			rd := rlStartRedis(t)
			up := newRLUpstream(t)
			path := rlWriteConfig(t, t.TempDir(), "127.0.0.1:0", up.URL, fmt.Sprintf(`  store: "redis://%s/0"
  on_store_error: %s
  redis: { timeout: 200ms, dial_timeout: 200ms }
  limits:
    - { name: per-ip, key: ip, rate: "100/s" }`, rd.addr(), tt.onErr), "")
			s, err := gateway.NewServer(context.Background(), gateway.ServerOptions{ConfigPath: path, LogOutput: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Pipeline().Close() })
			admin := httptest.NewServer(s.AdminHandler())
			t.Cleanup(admin.Close)
			get := func(p string) (int, string) {
				t.Helper()
				resp, err := http.Get(admin.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			ready := func(wantCode int, wantState string) {
				t.Helper()
				code, body := get("/readyz")
				if code != wantCode || !strings.Contains(body, `"ratelimit_store":"`+wantState+`"`) {
					t.Fatalf("readyz = %d %s; want %d with ratelimit_store %s", code, body, wantCode, wantState)
				}
				for _, leak := range []string{rd.addr(), strconv.Itoa(rd.port), "redis://", "dial", "refused"} {
					if strings.Contains(body, leak) {
						t.Fatalf("readyz body leaks %q: %s", leak, body)
					}
				}
			}
			gauge := func(want string) {
				t.Helper()
				_, m := get("/metrics")
				if !strings.Contains(m, "gatehouse_ratelimit_store_up "+want+"\n") {
					t.Fatalf("gatehouse_ratelimit_store_up != %s in:\n%s", want, grepLines(m, "gatehouse_ratelimit"))
				}
			}
			ready(200, "ok")
			gauge("1")
			rd.stop()
			ready(tt.downCode, tt.downState)
			gauge("0")
			if tt.downCode == 200 {
				if _, body := get("/readyz"); !strings.Contains(body, `"degraded":["ratelimit_store"]`) || !strings.Contains(body, `"status":"ready"`) {
					t.Fatalf("degraded readyz body: %s", body)
				}
			}
			rd.start() // same port: recovery needs no restart of the gateway
			ready(200, "ok")
			gauge("1")
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRateLimitRedisSlowReplyIsNotAnOutage: one Redis reply past the read
// timeout (a real redis-server paused with CLIENT PAUSE) opened the
// backoff, and with on_store_error deny every client got 503 until it
// ended (bench/run's gh-redis errors under load). Now the slow call's own
// request gets 503 and the next one, Redis answering again, goes through;
// three failures in a row still open the backoff (the clock is the test's,
// so only the test ends it).
func TestRateLimitRedisSlowReplyIsNotAnOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs redis-server")
	}
	rd := rlStartRedis(t)
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Now()}
	srv := rlGateway(t, up, fmt.Sprintf(`  store: "redis://%s/0"
  on_store_error: deny
  backoff: 1m
  redis: { read_timeout: 100ms, write_timeout: 100ms, timeout: 300ms }
  limits:
    - { name: per-ip, key: ip, rate: "1000/s", burst: 1000 }`, rd.addr()), "", clk)
	get := func() int { return rlDo(t, "GET", srv.URL+"/things", nil, "").StatusCode }
	c := redis.NewClient(&redis.Options{Addr: rd.addr(), ReadTimeout: 50 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()
	pause := func(ms int) {
		t.Helper()
		if err := c.Do(ctx, "CLIENT", "PAUSE", ms, "ALL").Err(); err != nil {
			t.Fatal(err)
		}
	}
	answering := func() {
		t.Helper()
		rlWaitFor(t, "redis to answer again", func() bool { return c.Ping(ctx).Err() == nil })
	}
	if code := get(); code != 200 {
		t.Fatalf("redis up: %d", code)
	}
	pause(1500)
	if code := get(); code != 503 {
		t.Fatalf("redis paused past the read timeout: %d, want 503 (deny)", code)
	}
	answering()
	if code := get(); code != 200 {
		t.Fatalf("after one slow reply: %d, want 200 (one slow reply is not an outage)", code)
	}
	pause(3000)
	for i := range 3 {
		if code := get(); code != 503 {
			t.Fatalf("paused, request %d: %d, want 503", i, code)
		}
	}
	answering()
	if code := get(); code != 503 {
		t.Fatalf("after three failures in a row: %d, want 503 from the backoff", code)
	}
	clk.Add(time.Minute)
	if code := get(); code != 200 {
		t.Fatalf("after the backoff: %d, want 200", code)
	}
}
