package oasvalidate_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/pb33f/libopenapi"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/oasvalidate"
)

const spec = `openapi: 3.1.0
info: {title: demo, version: "1"}
paths:
  /users:
    post:
      operationId: register
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string}
      responses:
        '201': {description: created}
`

func Example() {
	doc, _ := libopenapi.NewDocument([]byte(spec))
	model, _ := doc.BuildV3Model()
	v, err := oasvalidate.New(&model.Model, oasvalidate.Operations(&model.Model), oasvalidate.Options{
		RejectUnknown: true, Injection: inspect.Default, ExposeField: true,
	})
	if err != nil {
		panic(err)
	}
	// The gateway's router puts the matched route in the context; as a
	// library, do the same before the middleware.
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	for _, body := range []string{`{"name":"Ann"}`, `{"name":"Ann","role":"admin"}`, `{"name":"a","\u006eame":"b"}`} {
		r := httptest.NewRequest("POST", "/users", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "register", Method: "POST"}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.Contains(w.Body.String(), `"field"`))
	}
	// Output:
	// 201 false
	// 400 true
	// 400 true
}

// ExampleParseMultipart decodes a multipart/form-data body strictly: a part
// hidden behind a longer boundary that a lenient parser would split out is
// refused.
func ExampleParseMultipart() {
	body := "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday\r\n--b--\r\n"
	fields, err := oasvalidate.ParseMultipart([]byte(body), "b", oasvalidate.FormLimits{})
	fmt.Println(fields[0].Name, fields[0].Value, err)

	smuggled := "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n" +
		"--bb\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin\r\n--b--\r\n"
	_, err = oasvalidate.ParseMultipart([]byte(smuggled), "b", oasvalidate.FormLimits{})
	fmt.Println(errors.Is(err, oasvalidate.ErrFormBoundary))
	// Output:
	// title Holiday <nil>
	// true
}
