package redislimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
)

// BenchmarkRedisTake measures one decision round trip against the real
// test Redis: one limit, and three limits in one script call.
func BenchmarkRedisTake(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(strconv.Itoa(n)+"limits", func(b *testing.B) {
			st := testStore(b, false)
			var ops []ratelimit.Op
			for i := range n {
				ops = append(ops, ratelimit.Op{Policy: ratelimit.MustPolicy("b"+strconv.Itoa(i), "1000000/s", 1000000), Key: "bench"})
			}
			out := make([]ratelimit.Decision, n)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := st.Take(ctx, ops, time.Now(), out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedisTakeParallel measures throughput with concurrent callers
// sharing the pool.
func BenchmarkRedisTakeParallel(b *testing.B) {
	st := testStore(b, false)
	p := ratelimit.MustPolicy("bp", "1000000/s", 1000000)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]ratelimit.Decision, 1)
		i := 0
		for pb.Next() {
			i++
			if err := st.Take(ctx, []ratelimit.Op{{Policy: p, Key: strconv.Itoa(i % 1000)}}, time.Now(), out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClusterPathTake measures the Cluster code path (one script call
// per limit, pipelined) on the standalone test Redis: three limits all
// allowed (one round trip), and refused by one of them (a second round
// trip refunds the two that charged).
func BenchmarkClusterPathTake(b *testing.B) {
	for _, refused := range []bool{false, true} {
		name := "allowed"
		if refused {
			name = "refused_refund"
		}
		b.Run(name, func(b *testing.B) {
			c := redis.NewClient(mustParseURL(b))
			st := redislimit.NewFromClient(c, redislimit.Options{Cluster: true, Prefix: prefix()})
			defer st.Close()
			strict := ratelimit.MustPolicy("s", "1000000/s", 1000000)
			if refused {
				strict = ratelimit.MustPolicy("s", "1/h", 1)
			}
			ops := []ratelimit.Op{
				{Policy: ratelimit.MustPolicy("a", "1000000/s", 1000000), Key: "k"},
				{Policy: strict, Key: "k"},
				{Policy: ratelimit.MustPolicy("c", "1000000/s", 1000000), Key: "k"},
			}
			out := make([]ratelimit.Decision, len(ops))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Take(ctx, ops, time.Now(), out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
