// Package authz decides whether an authenticated (or anonymous) principal may
// perform the matched operation: default stance, roles and scopes, CEL rules,
// and object ownership. Authorization fails closed: any error denies.
package authz

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/authn"
)

// ErrDenied is wrapped by every denial; the wrapped detail names the rule and
// why, for the log only.
var ErrDenied = errors.New("authz: denied")

// Authorizer decides one request. It returns nil to allow, or an error
// wrapping ErrDenied. p is nil for anonymous requests.
type Authorizer interface {
	Authorize(ctx context.Context, p *authn.Principal, r *http.Request) error
}
