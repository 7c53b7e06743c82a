package oasvalidate

import (
	"bytes"
	"context"
	"github.com/gatehouse/gatehouse/openapi"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/inspect"
)

// benchBody is a typical ~1 KiB createUser body: names, prose with
// apostrophes, a nested address and a tag list.
var benchBody = func() []byte {
	bio := "Ann grew up in Galway and moved to Boston in 2009, where she's worked on payment systems ever since. " +
		"She maintains the team's on-call runbooks, reviews most schema changes, and writes the quarterly reliability report. " +
		"Outside work she's a volunteer at the public library's reading programme and a keen, if slow, marathon runner. " +
		"Her current project replaces the nightly batch reconciliation with a streaming pipeline that flags mismatches within minutes. " +
		"She prefers email for anything that can wait a day and the chat channel for incidents. Pronouns: she/her. " +
		"Languages: English, Irish, some Portuguese. On Fridays she runs the team's design review, where anyone can bring a " +
		"proposal; the notes go to the wiki the same day, and decisions are summarised in Monday's newsletter for the wider group."
	b := `{"name":"Ann O'Neil","email":"ann.oneil@example.com","age":41,"score":7.5,"bio":"` + bio +
		`","tags":["payments","sre","reviewer"],"address":{"street":"1 Main St","city":"Boston"}}`
	return []byte(b)
}()

func benchRequest(body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/users", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// BenchmarkValidate1KiB: gatehouse's path (strict reader + compiled schema +
// undeclared-property walk + injection checks on free strings).
func BenchmarkValidate1KiB(b *testing.B) {
	v := newValidator(b, "testdata/users30.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	ctx := gatehouse.WithRoute(context.Background(), &gatehouse.Route{OperationID: "createUser", Method: "POST"})
	if err := v.Check(benchRequest(benchBody).WithContext(ctx)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Check(benchRequest(benchBody).WithContext(ctx)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate1KiBNoInjection isolates the cost of the injection checks.
func BenchmarkValidate1KiBNoInjection(b *testing.B) {
	v := newValidator(b, "testdata/users30.yaml", Options{RejectUnknown: true})
	ctx := gatehouse.WithRoute(context.Background(), &gatehouse.Route{OperationID: "createUser", Method: "POST"})
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Check(benchRequest(benchBody).WithContext(ctx)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLibopenapiValidator1KiB: libopenapi-validator's own request path
// (ValidateHttpRequestSyncWithPathItem: params + body, its JSON decoder, its
// schema cache), given the already-matched path item.
func BenchmarkLibopenapiValidator1KiB(b *testing.B) {
	s := loadSpec(b, "testdata/users30.yaml")
	val := validator.NewValidatorFromV3Model(openapi.Model(s))
	pi := openapi.Model(s).Paths.PathItems.GetOrZero("/users")
	if ok, errs := val.ValidateHttpRequestSyncWithPathItem(benchRequest(benchBody), pi, "/users"); !ok {
		b.Fatal(errs[0])
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, errs := val.ValidateHttpRequestSyncWithPathItem(benchRequest(benchBody), pi, "/users"); !ok {
			b.Fatal(errs[0])
		}
	}
}

// BenchmarkKinOpenAPI1KiB: kin-openapi openapi3filter.ValidateRequest on the
// same (3.0) document and body, route resolved once outside the loop.
func BenchmarkKinOpenAPI1KiB(b *testing.B) {
	data, err := os.ReadFile("testdata/users30.yaml")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		b.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		b.Fatal(err)
	}
	pi := doc.Paths.Find("/users")
	route := &routers.Route{Spec: doc, Path: "/users", PathItem: pi, Method: "POST", Operation: pi.Post}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	run := func() error {
		return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
			Request: benchRequest(benchBody), Route: route, Options: opts})
	}
	if err := run(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchBodySize(t *testing.T) {
	if n := len(benchBody); n < 900 || n > 1200 {
		t.Fatalf("benchmark body is %d bytes, want about 1 KiB", n)
	}
	if !strings.Contains(string(benchBody), "'") {
		t.Fatal("benchmark body should carry apostrophes (injection checks run on it)")
	}
}
