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
		t.Skip("redis-cli not installed")
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
	c := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, _ := c.ClusterInfo(context.Background()).Result()
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %s", info)
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness
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
	// Documented cluster trade-off: the refused request was still charged by
	// the other limits (3 charged, not 2).
	if out[1].Remaining != 97 {
		t.Fatalf("loose remaining %d, want 97 (per-limit charging on a cluster)", out[1].Remaining)
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
