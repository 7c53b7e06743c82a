package audit_test

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
)

func ExampleRun() {
	spec, err := openapi.LoadBytes([]byte(`openapi: 3.0.3
info: {title: shop, version: "1.0"}
servers: [{url: "http://api.shop.example"}]
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      x-gatehouse-ignore: [GH1107]
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1, maximum: 1000000}}
      responses:
        "200": {description: the order}
`), "shop.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := audit.Run(context.Background(), spec, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Findings {
		fmt.Printf("%s %s %s:%d:%d %s\n", f.Severity, f.RuleID, f.File, f.Line, f.Column, f.Pointer)
	}
	fmt.Println("score", res.Score, "ignored", res.Ignored)
	// Output:
	// high GH1001 shop.yaml:1:1 /components
	// high GH1002 shop.yaml:6:5 /paths/~1orders~1{id}/get
	// high GH1008 shop.yaml:3:12 /servers/0/url
	// medium GH1206 shop.yaml:10:11 /paths/~1orders~1{id}/get/parameters/0
	// low GH1201 shop.yaml:11:7 /paths/~1orders~1{id}/get/responses
	// low GH1204 shop.yaml:11:7 /paths/~1orders~1{id}/get/responses
	// score 70 ignored 1
}
