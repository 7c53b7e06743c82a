package redislimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
)

// A limiter shared by every gateway replica through one Redis. The store
// reads the Redis server clock, so replica clock skew does not matter.
func ExampleNew() {
	st, err := redislimit.New(redislimit.Options{URL: "redis://127.0.0.1:6379/0", ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	l := ratelimit.NewGCRA(ratelimit.MustPolicy("per-user", "100/s", 200), st)
	d, err := l.Allow(context.Background(), "alice", time.Now())
	if err != nil {
		// Redis unreachable: errors.Is(err, ratelimit.ErrStoreUnavailable).
		fmt.Println("store error")
		return
	}
	fmt.Println(d.Allowed)
}
