package authz_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz"
)

// adminOnly is a minimal Authorizer.
type adminOnly struct{}

func (adminOnly) Authorize(_ context.Context, p *authn.Principal, _ *http.Request) error {
	if p == nil {
		return &authz.Denial{Rule: "admin-only", Reason: "authentication required", Status: http.StatusUnauthorized}
	}
	if !p.HasRole("admin") {
		return &authz.Denial{Rule: "admin-only", Reason: "missing role admin", Status: http.StatusForbidden}
	}
	return nil
}

func Example() {
	var az authz.Authorizer = adminOnly{}
	r, _ := http.NewRequest("GET", "/admin", nil)
	for _, p := range []*authn.Principal{nil, {Subject: "u1"}, {Subject: "a1", Roles: []string{"admin"}}} {
		err := az.Authorize(context.Background(), p, r)
		var d *authz.Denial
		switch {
		case err == nil:
			fmt.Println("allow")
		case errors.Is(err, authz.ErrUnauthenticated):
			fmt.Println("401:", err)
		case errors.As(err, &d):
			fmt.Println(d.Status, "rule", d.Rule+":", d.Reason)
		}
	}
	// Output:
	// 401: authz: admin-only: authentication required
	// 403 rule admin-only: missing role admin
	// allow
}
