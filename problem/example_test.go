package problem_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/problem"
)

// A handler reports a failure: the client sees a generic RFC 9457 body that
// names the failing field, never the internal error text.
func ExampleWriteError() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := &problem.Error{Status: http.StatusBadRequest, Field: "/email",
			Err: errors.New(`pq: invalid input syntax for type citext: "x'--"`)}
		problem.WriteError(w, r, err)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/users", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())
	// Output:
	// 400 application/problem+json
	// {"type":"about:blank","title":"Bad Request","status":400,"field":"/email"}
}
