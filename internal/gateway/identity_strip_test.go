package gateway

import (
	"net/http"
	"testing"
)

// TestConfiguredIdentityHeadersStrippedAtEntry: a configured identity header
// name (here X-User-Id) sent by the client, in any case or '_' spelling,
// never reaches the upstream, even on an operation no authenticator runs
// for: the entry stage strips it (httpx.StripIdentity), not only authn.
func TestConfiguredIdentityHeadersStrippedAtEntry(t *testing.T) {
	e := start(t, "authn:\n  identity_headers: {subject: X-User-Id, roles: X-Roles}\n")
	for _, h := range []string{"X-User-Id", "x-user-id", "X_User_Id", "X-ROLES", "x_roles", "X-Gatehouse-Subject", "X_Gatehouse_Roles"} {
		res, _ := e.do(http.MethodGet, "/users/1", map[string]string{h: "admin"}, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET with %s = %d", h, res.StatusCode)
		}
		got := e.up.lastReq()
		for k, v := range got.Header {
			if httpxNorm(k) == httpxNorm(h) {
				t.Errorf("client-sent %s reached the upstream as %s: %v", h, k, v)
			}
		}
	}
}

func httpxNorm(k string) string {
	b := []byte(k)
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
