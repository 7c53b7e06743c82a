package respfilter_test

import (
	"fmt"

	"github.com/pb33f/libopenapi"

	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/respfilter"
)

const spec = `openapi: 3.0.3
info: {title: demo, version: "1"}
paths:
  /users/{id}:
    get:
      operationId: getUser
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: {type: integer}
                  name: {type: string}
                  password_hash: {type: string}
`

func ExampleFilter_Apply() {
	doc, _ := libopenapi.NewDocument([]byte(spec))
	model, _ := doc.BuildV3Model()
	f, err := respfilter.New(&model.Model, oasvalidate.Operations(&model.Model), respfilter.Options{})
	if err != nil {
		panic(err)
	}
	// internal_notes is undeclared; password_hash is declared but masked.
	out, res, _ := f.Apply("getUser", 200, []byte(`{"id":1,"name":"a","password_hash":"x","internal_notes":"y"}`))
	fmt.Println(string(out), res.NStripped, res.NMasked)
	// Output: {"id":1,"name":"a"} 1 1
}
