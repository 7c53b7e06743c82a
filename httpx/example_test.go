package httpx_test

import (
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/httpx"
)

// A client cannot smuggle an identity header past the gateway: every
// X-Gatehouse-* header and every configured name goes, in any case and with
// "_" for "-".
func ExampleStripIdentity() {
	h := http.Header{}
	h.Set("X-Gatehouse-Subject", "admin")
	h["X_user_id"] = []string{"1"}
	h.Set("Accept", "application/json")
	n := httpx.StripIdentity(h, httpx.IdentityNames("X-User-Id"))
	fmt.Println(n, h.Get("Accept"), len(h))
	// Output: 2 application/json 1
}
