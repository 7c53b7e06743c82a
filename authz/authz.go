// Package authz decides whether an authenticated (or anonymous) principal may
// perform the matched operation: default stance, roles and scopes, CEL rules,
// and object ownership. Authorization fails closed: any error denies.
package authz

import (
	"context"
	"errors"
	"fmt"
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

// ErrUnauthenticated is wrapped by denials that happen because the request
// is anonymous and the operation requires an authenticated principal; the
// HTTP answer is 401 rather than 403. It wraps ErrDenied, so
// errors.Is(err, ErrDenied) holds for it too.
var ErrUnauthenticated = fmt.Errorf("%w: authentication required", ErrDenied)

// Denial is the error an Authorizer returns to deny: Rule names the rule
// that denied (a config rule key, or "default"), Reason says why for the log
// (request values quoted and truncated, never secrets), and Status is the HTTP
// status to answer with (401 or 403). It unwraps to ErrUnauthenticated for 401
// and to ErrDenied otherwise.
type Denial struct {
	Rule   string
	Reason string
	Status int
}

// Error returns "authz: <rule>: <reason>" (for the log, never the client).
func (d *Denial) Error() string { return "authz: " + d.Rule + ": " + d.Reason }

// Unwrap returns ErrUnauthenticated for a 401 denial, ErrDenied otherwise.
func (d *Denial) Unwrap() error {
	if d.Status == http.StatusUnauthorized {
		return ErrUnauthenticated
	}
	return ErrDenied
}
