package httpx

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/jsonx"
)

// TestJSONParsedOncePerRequest: with a body cache every stage asking with
// the same limits gets the very same parsed value; other limits parse
// again; bytes that are not the cached body are parsed as given.
func TestJSONParsedOncePerRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":{"b":[1,2]}}`))
	r = r.WithContext(WithBodyCache(r.Context()))
	b, err := Body(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := JSON(r, b, jsonx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := Body(r, 0)
	v2, _ := JSON(r, b2, jsonx.Limits{})
	if reflect.ValueOf(v1).UnsafePointer() != reflect.ValueOf(v2).UnsafePointer() {
		t.Fatal("second stage got a second parse")
	}
	v3, _ := JSON(r, b, jsonx.Limits{MaxDepth: 64})
	if reflect.ValueOf(v1).UnsafePointer() == reflect.ValueOf(v3).UnsafePointer() {
		t.Fatal("other limits shared the parse made under the defaults")
	}
	if _, err := JSON(r, b, jsonx.Limits{MaxDepth: 1}); err == nil {
		t.Fatal("depth 2 accepted under MaxDepth 1")
	}
	other, err := JSON(r, []byte(`{"x":1}`), jsonx.Limits{})
	if err != nil || other.(map[string]any)["x"] == nil {
		t.Fatalf("bytes of the caller's own: %v, %v", other, err)
	}
	// without a cache: parsed each time, still right
	r2 := httptest.NewRequest("POST", "/", strings.NewReader(`[1]`))
	b, _ = Body(r2, 0)
	if v, err := JSON(r2, b, jsonx.Limits{}); err != nil || len(v.([]any)) != 1 {
		t.Fatalf("no cache: %v, %v", v, err)
	}
}
