package gateway

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// buildRequestValidation compiles the request stage; a nil Middleware means the stage is off.
func (b *builder) buildRequestValidation(ctx context.Context) (gatehouse.Middleware, error) {
	return nil, nil
}
