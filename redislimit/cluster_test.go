package redislimit_test

import (
	"context"
	"fmt"
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

// startCluster starts a 3-master Redis Cluster on free ports.
func startCluster(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-cli not installed but GATEHOUSE_REQUIRE_REDIS=1")
		}
		t.Skip("redis-cli not installed: the Redis Cluster test starts its own nodes (apt-get install redis-server)")
	}
	var addrs []string
	for range 3 {
		rp := startRedisArgs(t, "--cluster-enabled", "yes", "--cluster-config-file", t.TempDir()+"/nodes.conf")
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(rp.port))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must agree the cluster is up: checking only the first one
	// raced with the others (CLUSTERDOWN on the first command).
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, _ := c.ClusterInfo(context.Background()).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok: %s", a, info)
			}
			time.Sleep(50 * time.Millisecond) // polling for readiness
		}
		c.Close()
	}
	return addrs
}

func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	addrs := startCluster(t)
	url := fmt.Sprintf("redis://%s?addr=%s&addr=%s", addrs[0], addrs[1], addrs[2])
	st, err := redislimit.New(redislimit.Options{URL: url, Cluster: true, ClientTime: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	// A freshly created cluster can still answer CLUSTERDOWN for a moment
	// after every node reports cluster_state:ok (seen on a loaded CI box):
	// warm up with keys of their own on all three masters before counting.
	warm := ratelimit.MustPolicy("warmup", "1000/min", 1000)
	wops := []ratelimit.Op{{Policy: warm, Key: "a"}, {Policy: warm, Key: "b"}, {Policy: warm, Key: "c"}}
	wout := make([]ratelimit.Decision, 3)
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := st.Take(ctx, wops, t0, wout)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster never served a request: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling for readiness
	}
	strict := ratelimit.MustPolicy("strict", "2/min", 2)
	loose := ratelimit.MustPolicy("loose", "100/min", 100)
	other := ratelimit.MustPolicy("other", "100/min", 100)
	// Three limits whose keys hash to different slots, in one call.
	ops := []ratelimit.Op{{Policy: strict, Key: "k"}, {Policy: loose, Key: "k"}, {Policy: other, Key: "zz"}}
	out := make([]ratelimit.Decision, 3)
	var got []bool
	for range 3 {
		if err := st.Take(ctx, ops, t0, out); err != nil {
			t.Fatalf("cluster Take: %v", err)
		}
		got = append(got, out[0].Allowed)
	}
	if fmt.Sprint(got) != "[true true false]" {
		t.Fatalf("strict limit on a cluster: %v, want [true true false]", got)
	}
	if !out[1].Allowed || !out[2].Allowed {
		t.Fatalf("loose limits refused: %+v", out)
	}
	// The refused request was refunded by the limits that had charged it:
	// 2 charged, not 3 (the decision reports 98 left, and so does the store).
	if out[1].Remaining != 98 || out[2].Remaining != 98 {
		t.Fatalf("loose remaining %d/%d after a refusal, want 98 (refused request refunded)", out[1].Remaining, out[2].Remaining)
	}
	one := make([]ratelimit.Decision, 1)
	if err := st.Take(ctx, []ratelimit.Op{{Policy: loose, Key: "k"}}, t0, one); err != nil || one[0].Remaining != 97 {
		t.Fatalf("loose alone after the refund: %+v, %v; want 97 left", one[0], err)
	}
	// The keys really are spread over several nodes (hash tags per limit+key).
	slots := map[int64]bool{}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	for _, op := range ops {
		s, err := c.ClusterKeySlot(ctx, st.Key(op.Policy.Name, op.Key)).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s] = true
	}
	if len(slots) != 3 {
		t.Fatalf("keys in %d slots, want 3", len(slots))
	}
	// Lockout works on a cluster too (single key).
	lp := &ratelimit.LockoutPolicy{AfterFailures: 1, Base: time.Minute, Max: time.Hour}
	if d, err := st.Failure(ctx, lp, "victim", t0); err != nil || d != time.Minute {
		t.Fatalf("cluster lockout: %v, %v", d, err)
	}
}

// TestClusterPathRefund drives the Cluster code path (one script call per
// limit, pipelined, refund on refusal) on the standalone test Redis, so it
// runs in every CI job even where no cluster can be started.
func TestClusterPathRefund(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(mustParseURL(t))
	st := redislimit.NewFromClient(c, redislimit.Options{Cluster: true, ClientTime: true, Prefix: prefix()})
	defer st.Close()
	strict := ratelimit.MustPolicy("strict", "2/min", 2)
	loose := ratelimit.MustPolicy("loose", "10/min", 10)
	ops := []ratelimit.Op{{Policy: loose, Key: "a"}, {Policy: strict, Key: "a"}, {Policy: loose, Key: "b"}}
	out := make([]ratelimit.Decision, len(ops))
	for i := range 2 {
		if err := st.Take(ctx, ops, t0, out); err != nil || !out[0].Allowed || !out[1].Allowed || !out[2].Allowed {
			t.Fatalf("request %d: %+v, %v", i, out, err)
		}
	}
	// Hammer the refused combination: none of these may charge "loose".
	for i := range 20 {
		if err := st.Take(ctx, ops, t0, out); err != nil {
			t.Fatal(err)
		}
		if out[1].Allowed {
			t.Fatalf("refused request %d allowed by strict", i)
		}
		if !out[0].Allowed || out[0].Remaining != 8 || out[2].Remaining != 8 {
			t.Fatalf("refused request %d: loose decisions %+v / %+v, want allowed with 8 left", i, out[0], out[2])
		}
	}
	for _, key := range []string{"a", "b"} {
		one := make([]ratelimit.Decision, 1)
		if err := st.Take(ctx, []ratelimit.Op{{Policy: loose, Key: key}}, t0, one); err != nil || !one[0].Allowed || one[0].Remaining != 7 {
			t.Fatalf("loose %q after 20 refunded refusals: %+v, %v; want 7 left (3 charges)", key, one[0], err)
		}
	}
	// The strict limit refills: a later request passes and charges all again.
	if err := st.Take(ctx, ops, t0.Add(30*time.Second), out); err != nil || !out[1].Allowed {
		t.Fatalf("after 30s: %+v, %v", out, err)
	}
}

func mustParseURL(t testing.TB) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(testutil.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return o
}
