package dynamic_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// A token signed with a published secret is cracked offline, from the
// embedded list of weak secrets.
func ExampleCrackHS() {
	tok := dynamic.Sign(map[string]any{"sub": "alice"}, "secret")
	secret, ok := dynamic.CrackHS(tok)
	fmt.Println(secret, ok)
	// Output: secret true
}
