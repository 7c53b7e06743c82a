package gateway

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// buildWAF compiles the optional Coraza + OWASP CRS stage; a nil Middleware
// means the stage is off (the default). It runs after authentication and
// rate limiting, so an anonymous or throttled flood never reaches the
// expensive rule engine, and before authorization and validation.
func (b *builder) buildWAF(ctx context.Context) (gatehouse.Middleware, error) {
	if !b.cfg.WAF.Enabled {
		return nil, nil
	}
	return nil, errors.New("waf: the Coraza stage is not built yet")
}
