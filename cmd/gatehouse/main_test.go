package main

import (
	"os"
	"testing"
)

// runMainEnv marks a child started from this test binary as the gatehouse
// command itself (see selfBinary).
const runMainEnv = "GATEHOUSE_TEST_RUN_MAIN"

// TestMain lets this test binary run as the gatehouse command: a test that
// needs the real process starts it again with the command's arguments and
// runMainEnv=1, and main() runs. Building the command with a nested
// `go build` instead compiled the module a second time beside
// `go test ./...` on a cold cache.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// selfBinary returns the program to start as `gatehouse` (this test
// binary) and the environment that makes it run main().
func selfBinary(t *testing.T) (string, []string) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin, append(os.Environ(), runMainEnv+"=1")
}
