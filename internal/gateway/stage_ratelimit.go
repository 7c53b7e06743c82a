package gateway

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// buildRateLimit compiles the ratelimit stage; a nil Middleware means the stage is off.
func (b *builder) buildRateLimit(ctx context.Context) (gatehouse.Middleware, error) {
	return nil, nil
}
