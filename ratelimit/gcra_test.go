package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestGCRABurstAndRefill(t *testing.T) {
	ctx := context.Background()
	l := NewGCRA(MustPolicy("login-ip", "5/min", 5), nil)
	for i := range 5 {
		d, err := l.Allow(ctx, "1.2.3.4", t0)
		if err != nil || !d.Allowed || d.Remaining != 4-i || d.Limit != 5 {
			t.Fatalf("request %d: Allow = %+v, %v; want allowed, remaining %d", i, d, err, 4-i)
		}
	}
	d, _ := l.Allow(ctx, "1.2.3.4", t0)
	if d.Allowed || d.RetryAfter != 12*time.Second || d.Remaining != 0 {
		t.Fatalf("6th: Allow = %+v; want denied, RetryAfter 12s", d)
	}
	if d.ResetAfter != time.Minute {
		t.Fatalf("6th: ResetAfter = %v, want 1m", d.ResetAfter)
	}
	// Another key is independent.
	if d, _ := l.Allow(ctx, "5.6.7.8", t0); !d.Allowed {
		t.Fatalf("other key denied: %+v", d)
	}
	// One interval later exactly one more request conforms.
	if d, _ := l.Allow(ctx, "1.2.3.4", t0.Add(12*time.Second-time.Nanosecond)); d.Allowed {
		t.Fatalf("1ns early: allowed")
	}
	if d, _ := l.Allow(ctx, "1.2.3.4", t0.Add(12*time.Second)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 12s: Allow = %+v, want allowed with 0 remaining", d)
	}
	if d, _ := l.Allow(ctx, "1.2.3.4", t0.Add(12*time.Second)); d.Allowed {
		t.Fatalf("second after 12s: allowed")
	}
	// After a full quiet minute the whole burst is back.
	if d, _ := l.Allow(ctx, "1.2.3.4", t0.Add(72*time.Second)); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after quiet minute: Allow = %+v, want remaining 4", d)
	}
}

func TestGCRASustainedRate(t *testing.T) {
	ctx := context.Background()
	l := NewGCRA(MustPolicy("per-user", "100/s", 200), nil)
	allowed := 0
	// 10 seconds of 1000 req/s: burst 200 + 100/s * 10s = 1200 allowed (±1).
	for i := range 10_000 {
		if d, _ := l.Allow(ctx, "u", t0.Add(time.Duration(i)*time.Millisecond)); d.Allowed {
			allowed++
		}
	}
	if allowed < 1199 || allowed > 1201 {
		t.Fatalf("allowed %d of 10000 over 10s at 100/s burst 200, want 1200±1", allowed)
	}
}

func TestTakeAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore(MemoryOptions{})
	strict := MustPolicy("strict", "1/min", 1)
	loose := MustPolicy("loose", "10/min", 10)
	ops := []Op{{strict, "k"}, {loose, "k"}}
	out := make([]Decision, 2)
	if err := st.Take(ctx, ops, t0, out); err != nil || !out[0].Allowed || !out[1].Allowed {
		t.Fatalf("first Take = %+v, %v", out, err)
	}
	for range 5 {
		if err := st.Take(ctx, ops, t0, out); err != nil || out[0].Allowed {
			t.Fatalf("Take = %+v, %v; want strict denied", out, err)
		}
		if !out[1].Allowed || out[1].Remaining != 9 {
			t.Fatalf("loose = %+v; want allowed, 9 remaining (not charged)", out[1])
		}
	}
	// The loose bucket was charged once only.
	d, _ := NewGCRA(loose, st).Allow(ctx, "k", t0)
	if !d.Allowed || d.Remaining != 8 {
		t.Fatalf("loose after denials: %+v, want remaining 8", d)
	}
}

func TestMemoryStoreConcurrentExact(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore(MemoryOptions{Shards: 4})
	p := MustPolicy("c", "100/h", 100)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]Decision, 2)
			for range 50 {
				// Two ops per request in different shards: exercises ordered locking.
				if err := st.Take(ctx, []Op{{p, "shared"}, {p, fmt.Sprint("own", g)}}, t0, out); err != nil {
					t.Error(err)
					return
				}
				if out[0].Allowed && out[1].Allowed {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Fatalf("%d requests allowed on the shared key, want exactly 100", ok.Load())
	}
}

func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryStore(MemoryOptions{MaxKeys: 1000, Shards: 1})
	p := MustPolicy("e", "1/h", 1)
	out := make([]Decision, 1)
	take := func(k string) Decision {
		if err := st.Take(ctx, []Op{{p, k}}, t0, out); err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	take("victim") // oldest, never touched again
	take("hot")
	for i := range 10_000 {
		take(fmt.Sprint("flood-", i))
		if i%100 == 0 {
			if d := take("hot"); d.Allowed {
				t.Fatalf("hot key lost its state after %d flood keys", i)
			}
		}
	}
	if n := st.Len(); n != 1000 {
		t.Fatalf("Len = %d after flood, want the cap 1000", n)
	}
	if ev := st.Evictions(); ev < 9000 {
		t.Fatalf("Evictions = %d, want >= 9000", ev)
	}
	if d := take("victim"); !d.Allowed {
		t.Fatalf("victim was not evicted (still limited)")
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestMemoryStoreMillionKeys reports the memory of 1M keys and checks that a
// flood of 1M keys into a 200k cap stays bounded.
func TestMemoryStoreMillionKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ctx := context.Background()
	p := MustPolicy("m", "10/s", 10)
	out := make([]Decision, 1)
	key := make([]byte, 0, 32)
	fill := func(st *MemoryStore, n int) {
		for i := range n {
			key = strconv.AppendInt(append(key[:0], "ip-"...), int64(i), 10)
			if err := st.Take(ctx, []Op{{p, string(key)}}, t0, out); err != nil {
				t.Fatal(err)
			}
		}
	}

	before := heapInUse()
	st := NewMemoryStore(MemoryOptions{MaxKeys: 1_000_000})
	fill(st, 1_000_000)
	after := heapInUse()
	// Shards evict at MaxKeys/Shards each, so uneven hashing keeps a little
	// under the cap.
	if n := st.Len(); n > 1_000_000 || n < 980_000 {
		t.Fatalf("Len = %d, want 980000..1000000", n)
	}
	used := after - before
	t.Logf("1M keys: heap in use %d MiB -> %d MiB (+%d MiB, %d bytes/key)", before>>20, after>>20, used>>20, used/1_000_000)
	// docs/ratelimit.md and the README say +72 MiB (76 bytes/key); allow 25%
	// above that for allocator and GC noise, and fail if it grows further.
	const docBytes = 76 * 1_000_000
	if used > docBytes*5/4 {
		t.Fatalf("1M keys use %d MiB (%d bytes/key), want within 25%% of the documented 76 bytes/key", used>>20, used/1_000_000)
	}
	runtime.KeepAlive(st)
	st = nil

	before = heapInUse()
	capped := NewMemoryStore(MemoryOptions{MaxKeys: 200_000})
	fill(capped, 1_000_000)
	after = heapInUse()
	if n := capped.Len(); n > 200_000 {
		t.Fatalf("capped store holds %d keys, want <= 200000", n)
	}
	used = after - before
	t.Logf("1M-key flood into a 200k cap: %d keys held, %d evicted, heap +%d MiB", capped.Len(), capped.Evictions(), used>>20)
	if used > 50<<20 {
		t.Fatalf("capped store grew to %d MiB, want < 50 MiB", used>>20)
	}
	runtime.KeepAlive(capped)
}
