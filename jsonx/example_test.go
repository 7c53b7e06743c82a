package jsonx_test

import (
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/jsonx"
)

// Two copies of a key are refused, however the second one is spelled, so
// no two readers of the body can disagree on its value.
func ExampleParse() {
	_, err := jsonx.Parse([]byte(`{"role":"user","r\u006fle":"admin"}`), jsonx.Limits{})
	var e *jsonx.Error
	fmt.Println(errors.As(err, &e), e.Pointer)
	v, _ := jsonx.Parse([]byte(`{"ids":[1,2]}`), jsonx.Limits{MaxArrayLen: 10})
	fmt.Println(v)
	// Output:
	// true /role
	// map[ids:[1 2]]
}
