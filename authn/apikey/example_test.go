package apikey_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/authn/apikey"
)

// Example issues a key, stores only its hash, and authenticates a request.
func Example() {
	key, digest, _ := apikey.Generate()
	store, _ := apikey.NewMemory([]apikey.Key{{Digest: digest, Subject: "ci-bot", Roles: []string{"deployer"}}})
	a, _ := apikey.New(apikey.Options{Store: store})

	r := httptest.NewRequest("GET", "/deploy", nil)
	r.Header.Set("X-API-Key", key)
	p, err := a.Authenticate(r)
	fmt.Println(p.Subject, p.Roles, p.Method, err)
	// Output: ci-bot [deployer] api_key <nil>
}
