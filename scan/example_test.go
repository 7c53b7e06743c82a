package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
)

// A tiny API whose only operation leaks another user's password hash to
// its caller. (A caller reading its own secret, on /me say, is no finding.)
const exampleSpec = `openapi: 3.1.0
info: { title: example, version: "1" }
paths:
  /users:
    get:
      operationId: listUsers
      responses:
        "200": { description: ok }
`

func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, `[{"id": 7, "username": "bob", "password_hash": "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"}]`)
	}))
	defer api.Close()

	spec, _ := openapi.LoadBytes([]byte(exampleSpec), "example.yaml")
	alice := scan.NewHeaderIdentity("alice", http.Header{"Authorization": {"Bearer alice-token"}})
	target, _ := scan.NewTarget(spec, api.URL, []*scan.Identity{alice}, scan.NewClient(scan.ClientOptions{Budget: 100}), nil)
	cs, _ := checks.Select("exposure")
	res, err := scan.Run(context.Background(), target, scan.Options{Checks: cs})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Findings {
		fmt.Println(f.Severity, f.CheckID, f.Operation, f.Param)
		fmt.Println(f.Fix)
	}
	// Output:
	// high GH2020 listUsers password_hash
	// response: { mode: filter, mask_fields: [password_hash] }
}
