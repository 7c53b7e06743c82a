// Command gatehouse is the API security gateway, scanner and auditor.
// This file holds flags and wiring only; the work lives in the packages.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(exitCode(err))
	}
}
