package introspect_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/authn/introspect"
)

// Example authenticates an opaque token against an RFC 7662 endpoint.
func Example() {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "gatehouse" || secret != "secret" || r.FormValue("token") != "opaque-123" {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_, _ = w.Write([]byte(`{"active":true,"sub":"alice","scope":"orders:read"}`))
	}))
	defer idp.Close()
	a, _ := introspect.New(introspect.Options{Endpoint: idp.URL, ClientID: "gatehouse", ClientSecret: []byte("secret")})

	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer opaque-123")
	p, err := a.Authenticate(r)
	fmt.Println(p.Subject, p.Scopes, p.Method, err)
	// Output: alice [orders:read] introspection <nil>
}
