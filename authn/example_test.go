package authn_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikey"
)

// Example puts the authentication stage in front of a handler.
func Example() {
	key, digest, _ := apikey.Generate()
	store, _ := apikey.NewMemory([]apikey.Key{{Digest: digest, Subject: "ci-bot"}})
	keys, _ := apikey.New(apikey.Options{Store: store})
	mw := authn.Middleware(authn.MiddlewareOptions{
		Authenticators: []authn.Authenticator{keys},
		SubjectHeader:  "X-Gatehouse-Subject",
	})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello ", r.Header.Get("X-Gatehouse-Subject"))
	}))

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	r.Header.Set("X-Gatehouse-Subject", "admin") // spoofed: removed
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())

	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", "ghk_wrong")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 hello ci-bot
	// 401 Bearer realm="gatehouse", error="invalid_token"
}
