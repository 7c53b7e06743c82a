package checks_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/scan/checks"
)

// Select picks checks by ID and category; a leading "-" excludes.
func ExampleSelect() {
	cs, err := checks.Select("GH2010,GH2020")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cs {
		fmt.Println(c.Meta().ID)
	}
	// Output:
	// GH2010
	// GH2020
}
