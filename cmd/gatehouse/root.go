package main

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// exitError carries a specific process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// version is set by -ldflags "-X main.version=..." in release builds.
var version = ""

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "API security gateway, scanner and auditor driven by the OpenAPI contract",
		Long: `gatehouse protects and tests HTTP/JSON APIs using their OpenAPI contract as the policy.

  serve     run the security gateway (reverse proxy) in front of an API
  validate  check a gateway config offline and report every problem with file:line:col
  audit     review an OpenAPI document (and a gateway config) for security blunders, with a score
  init      write a secure-by-default gateway config and a constraints overlay for an API
  version   print the version`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	// Subcommands register themselves in their own files (serve.go, validate.go, scan.go, ...).
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	return root
}

// subcommands is appended to by each command file's init, so that files owned
// by different work items do not collide in this one.
var subcommands []func() *cobra.Command

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatehouse version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if v == "" {
				if bi, ok := debug.ReadBuildInfo(); ok {
					v = bi.Main.Version
				}
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s\n", v)
			return err
		},
	}
}
