package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/authn/revocation"
)

// Example revokes one token by jti and checks it.
func Example() {
	ctx := context.Background()
	s := revocation.NewMemory(1000, nil)
	_ = s.RevokeToken(ctx, "token-123", time.Now().Add(time.Hour))
	revoked, _ := s.Check(ctx, "token-123", "alice", time.Now().Add(-time.Minute))
	fmt.Println(revoked)
	// Output: true
}
