package gateway

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// buildResponseFilter compiles the response stage; a nil Middleware means the stage is off.
func (b *builder) buildResponseFilter(ctx context.Context) (gatehouse.Middleware, error) {
	return nil, nil
}
