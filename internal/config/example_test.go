package config_test

import (
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Check loads and validates a config and reports every problem, each with
// its file, line, column and key path.
func ExampleCheck() {
	_, err := config.Check("testdata/two_mistakes.bad.yaml")
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Errors() {
			fmt.Println(p)
		}
	}
	// Output:
	// testdata/two_mistakes.bad.yaml:4:11: upstream: upstream "127.0.0.1:5000" is not a URL
	// testdata/two_mistakes.bad.yaml:5:7: mode: mode must be enforce or monitor, not "block"
}

// AtPath ties an error found after validation (by gateway.Build, say) to a
// key, and Locate turns it into a problem with a file position.
func ExampleConfig_Locate() {
	cfg, err := config.Check("testdata/minimal.good.yaml")
	if err != nil {
		panic(err)
	}
	buildErr := config.AtPath("spec", errors.New("operation getUser: duplicate operationId"))
	fmt.Println(cfg.Locate(buildErr))
	// Output:
	// testdata/minimal.good.yaml:3:7: spec: operation getUser: duplicate operationId
}
