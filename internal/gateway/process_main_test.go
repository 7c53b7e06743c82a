package gateway_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

// reexecEnv marks a child started from this test binary as a gateway
// process (see gatehouseProcess).
const reexecEnv = "GATEHOUSE_TEST_GATEWAY_PROCESS"

// TestMain lets this test binary run as `gatehouse serve`: the tests that
// need a real process (SIGTERM, SIGHUP, memory under floods, several
// instances sharing Redis) start it again with `serve -c FILE [--no-watch]
// [--enable-reload]`, and it runs gateway.RunProcess, the code the command
// runs. Building cmd/gatehouse from a test instead compiled the whole module
// a second time beside `go test ./...` on a cold cache.
func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:]))
	}
	os.Setenv(reexecEnv, "1") // inherited by the children started with the serve argument
	os.Exit(m.Run())
}

// serveMain parses the serve flags the tests use, like the command does.
func serveMain(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	file := fs.String("c", "gatehouse.yaml", "config file")
	enableReload := fs.Bool("enable-reload", false, "")
	noWatch := fs.Bool("no-watch", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	err := gateway.RunProcess(context.Background(), gateway.ServerOptions{ConfigPath: *file, EnableReload: *enableReload, Watch: !*noWatch})
	if err == nil {
		return 0
	}
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(os.Stderr, p.String())
		}
	}
	fmt.Fprintln(os.Stderr, "gatehouse:", err)
	return 1
}

// gatehouseProcess returns the program the process tests start with
// `serve -c FILE`: this test binary (see TestMain).
func gatehouseProcess(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
