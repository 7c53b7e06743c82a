// Package authn authenticates requests and carries the verified identity, a
// [Principal], in the request context.
//
// Authenticators are tried in order; one that finds no credentials of its kind
// returns [ErrNoCredentials] so the next can try. Any other error fails the
// request closed with 401. Subpackages implement JWT/OIDC and API keys.
package authn

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNoCredentials means the request carries no credentials for this
// authenticator; the chain tries the next one.
var ErrNoCredentials = errors.New("authn: no credentials")

// ErrInvalidCredentials wraps every rejection of presented credentials
// (bad signature, expired, revoked, unknown key...). The wrapped detail is for
// the log only.
var ErrInvalidCredentials = errors.New("authn: invalid credentials")

// Authenticator verifies the credentials a request carries.
type Authenticator interface {
	// Authenticate returns the verified principal, ErrNoCredentials when the
	// request has none of this kind, or an error wrapping ErrInvalidCredentials.
	Authenticate(r *http.Request) (*Principal, error)
}

// Principal is a verified identity. It is immutable once placed in a context.
type Principal struct {
	Subject string
	Issuer  string
	// Method is how the principal authenticated: "jwt", "api_key", ...
	Method string
	Roles  []string
	Scopes []string
	// Claims holds all token claims (JWT) or key attributes (API key), decoded
	// from JSON: string, float64, bool, []any, map[string]any.
	Claims map[string]any
	// TokenID is the JWT "jti" (for revocation); empty for API keys.
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time // zero when the credential does not expire
}

// HasRole reports whether p has role r. A nil Principal has no roles.
func (p *Principal) HasRole(r string) bool {
	if p == nil {
		return false
	}
	for _, x := range p.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// HasScope reports whether p has scope s.
func (p *Principal) HasScope(s string) bool {
	if p == nil {
		return false
	}
	for _, x := range p.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated principal, or nil for an anonymous request.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
