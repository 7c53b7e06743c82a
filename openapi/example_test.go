package openapi_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/openapi"
)

func Example() {
	spec, err := openapi.Load("testdata/routes.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/users/42", "/users/%61%20b", "/users/../admin", "/ADMIN"} {
		m, err := spec.Match(http.MethodGet, path)
		switch {
		case errors.Is(err, openapi.ErrBadPath):
			fmt.Println(path, "-> 400")
		case errors.Is(err, openapi.ErrNotFound):
			fmt.Println(path, "-> 404")
		case err != nil:
			fmt.Println(path, "->", err)
		default:
			fmt.Println(path, "->", m.Operation.ID, m.Params["id"], "forward", m.RawPath)
		}
	}
	_, err = spec.Match(http.MethodPut, "/users/42")
	var mna *openapi.MethodNotAllowedError
	if errors.As(err, &mna) {
		fmt.Println("PUT /users/42 -> 405 Allow:", mna.Allow)
	}
	// Output:
	// /users/42 -> getUser 42 forward /users/42
	// /users/%61%20b -> getUser a b forward /users/a%20b
	// /users/../admin -> 400
	// /ADMIN -> 404
	// PUT /users/42 -> 405 Allow: [GET DELETE]
}

func ExampleStripOverrideHeaders() {
	h := http.Header{}
	h.Set("X-HTTP-Method-Override", "DELETE")
	h["x_original_url"] = []string{"/admin"}
	h.Set("Accept", "application/json")
	removed := openapi.StripOverrideHeaders(h)
	fmt.Println(len(removed), h.Get("Accept"))
	// Output: 2 application/json
}
