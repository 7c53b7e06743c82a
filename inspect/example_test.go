package inspect_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/inspect"
)

func ExampleChecks_String() {
	for _, s := range []string{"O'Brien's café", "1' OR '1'='1", "<script>alert(1)</script>", `{"$ne": null}`} {
		if f, bad := inspect.Default.String(s); bad {
			fmt.Println("blocked:", f.Kind)
		} else {
			fmt.Println("clean")
		}
	}
	marked := inspect.Checks{Shell: true}
	_, bad := marked.String("example.com; cat /etc/passwd")
	fmt.Println(bad)
	// Output:
	// clean
	// blocked: sqli
	// blocked: xss
	// blocked: nosql
	// true
}
