package celpolicy_test

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

func Example() {
	c, err := celpolicy.NewCompiler(celpolicy.Options{})
	if err != nil {
		panic(err)
	}
	params := map[string]celpolicy.Type{"user_id": celpolicy.Int}

	// A type error is caught when the rule is compiled, not per request.
	_, err = c.Compile("request.path.user_id == principal.sub", params)
	fmt.Println("type error caught:", err != nil)

	prg, err := c.Compile("request.path.user_id == principal.claims.uid || 'admin' in principal.roles", params)
	if err != nil {
		panic(err)
	}
	alice := &authn.Principal{Subject: "alice", Claims: map[string]any{"uid": float64(1)}}
	for _, id := range []int64{1, 2} {
		ok, err := prg.Eval(context.Background(), &celpolicy.Input{Principal: alice, Path: map[string]any{"user_id": id}})
		fmt.Println(id, ok, err)
	}
	// Output:
	// type error caught: true
	// 1 true <nil>
	// 2 false <nil>
}
