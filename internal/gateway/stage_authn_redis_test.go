package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// authnRedis is a redis-server of the test's own on a free loopback port,
// with an append-only file, so that it can be killed and restarted with its
// data (as a production Redis with persistence would be).
type authnRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startAuthnRedis(t *testing.T) *authnRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not installed but GATEHOUSE_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not installed: this test starts and stops its own Redis (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &authnRedis{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	l.Close()
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *authnRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *authnRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir, "--daemonize", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	authnWaitFor(r.t, "redis-server up", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (r *authnRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// TestAuthnRevocationRedisOutage kills the revocation store's Redis under a
// running gateway and restarts it, once per on_store_error choice.
func TestAuthnRevocationRedisOutage(t *testing.T) {
	for _, onErr := range []string{"deny", "allow"} {
		t.Run(onErr, func(t *testing.T) {
			rd := startAuthnRedis(t)
			up := upstreamEcho(t)
			cfg, signer := authnFixture(t, up.URL, rd.url())
			as := startAuthnServer(t, fmt.Sprintf(`listen: "127.0.0.1:0"
admin: "127.0.0.1:1"
upstream: %q
spec: openapi.yaml
authn:
  jwt:
    - issuer: gatehouse-test
      keys: [%q]
      audiences: [orders-api]
      algorithms: [EdDSA]
  revocation: { store: %q, on_store_error: %s }
  logout_operation: logout
`, up.URL, cfg.Authn.JWT[0].Keys[0], rd.url(), onErr), authnTestSpec)
			mint := func(jti string) string {
				now := time.Now()
				tok, err := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "alice", "jti": jti,
					"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, "EdDSA", signer)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
			live, loggedOut := mint("live-"+suffix), mint("out-"+suffix)
			ready := func(wantCode int, want string) {
				t.Helper()
				code, body := as.readyz(t)
				checks, _ := body["checks"].(map[string]any)
				if code != wantCode || checks["authn_revocation_store"] != want {
					t.Fatalf("/readyz = %d %v; want %d with authn_revocation_store %s", code, body, wantCode, want)
				}
			}
			expect := func(tok string, want int, what string) {
				t.Helper()
				if code, _ := as.get(t, "/orders", tok); code != want {
					t.Fatalf("%s: GET = %d, want %d", what, code, want)
				}
			}
			expect(live, 200, "Redis up")
			req := func(tok string) int {
				code, _ := as.post(t, "/logout", tok)
				return code
			}
			if got := req(loggedOut); got != 204 {
				t.Fatalf("logout = %d, want 204", got)
			}
			expect(loggedOut, 401, "logged out, Redis up")
			ready(200, "ok")

			rd.kill()
			if onErr == "deny" {
				expect(live, 401, "Redis down, deny")
				expect(loggedOut, 401, "logged out, Redis down, deny")
				ready(503, "unreachable")
			} else {
				expect(live, 200, "Redis down, allow")
				// The price of allow, stated in the docs: a logged-out
				// token is not checked while Redis is down.
				expect(loggedOut, 200, "logged out, Redis down, allow")
				ready(200, "degraded")
			}
			// A logout during the outage can not be recorded: never a 2xx
			// the client would trust (deny: the token check fails first,
			// 401; allow: the revocation write fails, 503).
			wantLogout := map[string]int{"deny": 401, "allow": 503}[onErr]
			if got := req(mint("during-" + suffix)); got != wantLogout {
				t.Fatalf("logout with Redis down = %d, want %d", got, wantLogout)
			}

			rd.start() // same port, same data
			authnWaitFor(t, "recovery without a restart of the gateway", func() bool {
				code, _ := as.get(t, "/orders", live)
				return code == 200
			})
			expect(loggedOut, 401, "logged out, Redis back")
			ready(200, "ok")
		})
	}
}
