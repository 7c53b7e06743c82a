package redislimit_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func prefix() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return "ghtest:" + hex.EncodeToString(b[:]) + ":"
}

// testStore returns a store on the shared test Redis with a fresh key prefix.
func testStore(t testing.TB, clientTime bool) *redislimit.Store {
	t.Helper()
	st, err := redislimit.New(redislimit.Options{URL: testutil.RedisURL(t), Prefix: prefix(), ClientTime: clientTime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("test redis: %v", err)
	}
	return st
}

func TestRedisGCRA(t *testing.T) {
	ctx := context.Background()
	st := testStore(t, true)
	l := ratelimit.NewGCRA(ratelimit.MustPolicy("login-ip", "5/min", 5), st)
	for i := range 5 {
		d, err := l.Allow(ctx, "1.2.3.4", t0)
		if err != nil || !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v, %v", i, d, err)
		}
	}
	d, err := l.Allow(ctx, "1.2.3.4", t0)
	if err != nil || d.Allowed || d.RetryAfter != 12*time.Second || d.ResetAfter != time.Minute {
		t.Fatalf("6th: %+v, %v; want denied, retry 12s, reset 1m", d, err)
	}
	if d, _ := l.Allow(ctx, "1.2.3.4", t0.Add(12*time.Second)); !d.Allowed {
		t.Fatalf("after 12s: %+v", d)
	}
}

// TestRedisMatchesMemory replays one random request sequence against both
// stores (Redis with the caller's clock) and wants identical decisions.
func TestRedisMatchesMemory(t *testing.T) {
	ctx := context.Background()
	rs := testStore(t, true)
	ms := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
	pols := []*ratelimit.Policy{
		ratelimit.MustPolicy("a", "5/min", 5),
		ratelimit.MustPolicy("b", "100/s", 200),
		ratelimit.MustPolicy("c", "10/1h", 2),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	for i := range 600 {
		now = now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		var ops []ratelimit.Op
		for _, p := range pols {
			if rng.IntN(2) == 0 {
				ops = append(ops, ratelimit.Op{Policy: p, Key: strconv.Itoa(rng.IntN(3))})
			}
		}
		if len(ops) == 0 {
			continue
		}
		a, b := make([]ratelimit.Decision, len(ops)), make([]ratelimit.Decision, len(ops))
		if err := ms.Take(ctx, ops, now, a); err != nil {
			t.Fatal(err)
		}
		if err := rs.Take(ctx, ops, now, b); err != nil {
			t.Fatal(err)
		}
		for j := range ops {
			if a[j] != b[j] {
				t.Fatalf("step %d op %s/%s: memory %+v, redis %+v", i, ops[j].Policy.Name, ops[j].Key, a[j], b[j])
			}
		}
	}
}

func TestRedisKeys(t *testing.T) {
	st, err := redislimit.New(redislimit.Options{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	huge := strings.Repeat("x", 1<<20)
	k1, k2 := st.Key("per-user", huge), st.Key("per-user", huge+"y")
	if len(k1) != len("gatehouse:rl:{}")+32 || k1 == k2 {
		t.Fatalf("keys %q / %q: want fixed-size distinct hashes", k1[:40], k2[:40])
	}
	if !strings.HasPrefix(k1, "gatehouse:rl:{") || !strings.HasSuffix(k1, "}") {
		t.Fatalf("key %q lacks a hash tag", k1)
	}
	if st.Key("a", "bc") == st.Key("ab", "c") {
		t.Fatalf("name/key boundary is ambiguous")
	}
	// An unreachable Redis reports ErrStoreUnavailable, quickly.
	start := time.Now()
	_, err = ratelimit.NewGCRA(ratelimit.MustPolicy("x", "1/s", 1), st).Allow(context.Background(), "k", time.Now())
	if !errors.Is(err, ratelimit.ErrStoreUnavailable) {
		t.Fatalf("unreachable redis: err = %v, want ErrStoreUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("unreachable redis took %v", el)
	}
	if _, err := redislimit.New(redislimit.Options{URL: "redis://user:hunter2@[::1"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad url: err = %v, want an error without the password", err)
	}
}

func TestRedisLockout(t *testing.T) {
	ctx := context.Background()
	st := testStore(t, true)
	p := &ratelimit.LockoutPolicy{AfterFailures: 3, Base: time.Minute, Max: 4 * time.Minute}
	now := t0
	for i := range 2 {
		if d, err := st.Failure(ctx, p, "victim", now); err != nil || d != 0 {
			t.Fatalf("failure %d: %v, %v", i, d, err)
		}
	}
	if d, _ := st.Failure(ctx, p, "victim", now); d != time.Minute {
		t.Fatalf("3rd failure locks %v, want 1m", d)
	}
	if d, _ := st.Locked(ctx, p, "victim", now.Add(30*time.Second)); d != 30*time.Second {
		t.Fatalf("Locked = %v, want 30s", d)
	}
	if d, _ := st.Locked(ctx, p, "other", now); d != 0 {
		t.Fatalf("other account locked %v", d)
	}
	now = now.Add(time.Minute)
	if d, _ := st.Failure(ctx, p, "victim", now); d != 2*time.Minute {
		t.Fatalf("4th failure locks %v, want 2m", d)
	}
	now = now.Add(2 * time.Minute)
	for _, want := range []time.Duration{4 * time.Minute, 4 * time.Minute} {
		if d, _ := st.Failure(ctx, p, "victim", now); d != want {
			t.Fatalf("failure locks %v, want %v (capped)", d, want)
		}
	}
	if err := st.Success(ctx, p, "victim"); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Locked(ctx, p, "victim", now); d != 0 {
		t.Fatalf("locked %v after success", d)
	}
	// The memory store behaves the same.
	ms := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
	now = t0
	var got []time.Duration
	for range 6 {
		d, _ := ms.Failure(ctx, p, "v", now)
		got = append(got, d)
		now = now.Add(d)
	}
	if fmt.Sprint(got) != "[0s 0s 1m0s 2m0s 4m0s 4m0s]" {
		t.Fatalf("memory lockout sequence %v", got)
	}
}

// TestRedisServerClock: with the server clock, the caller's now is ignored.
func TestRedisServerClock(t *testing.T) {
	ctx := context.Background()
	st := testStore(t, false)
	l := ratelimit.NewGCRA(ratelimit.MustPolicy("s", "2/h", 2), st)
	// Callers far in the past and future share the server's timeline.
	for i, now := range []time.Time{t0, t0.Add(1000 * time.Hour)} {
		if d, err := l.Allow(ctx, "k", now); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v", i, d, err)
		}
	}
	if d, _ := l.Allow(ctx, "k", t0.Add(9999*time.Hour)); d.Allowed {
		t.Fatalf("a caller with a clock far ahead got a refill")
	}
}

// ---- a real redis-server of our own, to stop and restart ----

type redisProc struct {
	t     testing.TB
	port  int
	extra []string
	cmd   *exec.Cmd
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server on a free port (skipping, or failing under
// GATEHOUSE_REQUIRE_REDIS=1, when it is not installed).
func startRedis(t testing.TB) *redisProc { return startRedisArgs(t) }

// startRedisArgs is startRedis with extra redis-server arguments.
func startRedisArgs(t testing.TB, extra ...string) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not installed but GATEHOUSE_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not installed: this test starts and stops its own Redis (apt-get install redis-server)")
	}
	p := &redisProc{t: t, port: freePort(t), extra: extra}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *redisProc) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port) }

func (p *redisProc) start() {
	p.t.Helper()
	args := append([]string{"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no"}, p.extra...)
	p.cmd = exec.Command("redis-server", args...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			p.t.Fatalf("redis-server on port %d did not come up", p.port)
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not timing a test
	}
}

func (p *redisProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

func TestRedisOutageAndRecovery(t *testing.T) {
	ctx := context.Background()
	rp := startRedis(t)
	st, err := redislimit.New(redislimit.Options{URL: rp.url(), Prefix: prefix(), ClientTime: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := ratelimit.NewGCRA(ratelimit.MustPolicy("o", "3/h", 3), st)
	if d, err := l.Allow(ctx, "k", t0); err != nil || !d.Allowed {
		t.Fatalf("before outage: %+v, %v", d, err)
	}
	rp.stop()
	if _, err := l.Allow(ctx, "k", t0); !errors.Is(err, ratelimit.ErrStoreUnavailable) {
		t.Fatalf("during outage: err = %v, want ErrStoreUnavailable", err)
	}
	rp.start()
	// Same client, no restart: the pool redials. The restarted Redis is empty
	// (no persistence), so the key starts over.
	d, err := l.Allow(ctx, "k", t0)
	if err != nil || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("after restart: %+v, %v", d, err)
	}
}
