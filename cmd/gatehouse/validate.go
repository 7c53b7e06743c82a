package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
)

func init() { subcommands = append(subcommands, newValidateCmd) }

// validateBuild, when non-nil, compiles a validated config the way serve
// would (spec, CEL rules, regexes, key files) without listening, so that
// validate also reports what only Build can find. The gateway wiring sets it
// (from gateway.Build, closing what it built); it must not bind ports. An
// error it returns is placed at a file position by (*config.Config).Locate:
// return a *config.ValidationError, or wrap an error with config.AtPath(key,
// err) so it is reported at that key; anything else is reported at 1:1.
var validateBuild func(context.Context, *config.Config) ([]config.Problem, error)

func newValidateCmd() *cobra.Command {
	var (
		file    string
		noBuild bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "validate [-c FILE]",
		Short: "Check a gateway config offline and report every problem with file:line:col",
		Long: `Validate loads a gateway config the way serve does and reports every problem at once,
without listening on any port.

It decodes the YAML strictly (unknown keys, wrong types and duplicate keys are errors),
expands ${ENV} and ${ENV:-default} references, resolves relative file paths against the
config file's directory, checks every setting, and then compiles the config as serve would
(OpenAPI spec, authorization rules, key files, ...) unless --no-build is given; the
build may fetch JWKS or OIDC discovery documents and is bounded by --timeout.

Each problem is printed on its own line as

  FILE:LINE:COL: key.path: message
  FILE:LINE:COL: warning: key.path: message

errors first, then warnings (continuation lines of a long message start with a tab).
A problem about a missing key points at its parent key. Warnings (for example errors.expose_details: true or
mode: monitor) do not fail validation.

Exit status: 0 when the config is valid ("FILE: ok" is printed, after any warnings),
1 when there is at least one error or the file cannot be read.`,
		Example: `  gatehouse validate -c gatehouse.yaml
  gatehouse validate -c examples/basic/gatehouse.yaml --no-build`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return runValidate(ctx, cmd.OutOrStdout(), file, !noBuild)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "gatehouse.yaml", "config file to check")
	cmd.Flags().BoolVar(&noBuild, "no-build", false, "only load and check the config; do not compile the spec and rules")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on the build step (it may fetch JWKS or OIDC discovery documents)")
	return cmd
}

// runValidate checks file and prints the report to w.
func runValidate(ctx context.Context, w io.Writer, file string, build bool) error {
	cfg, err := config.Check(file)
	var buildWarnings []config.Problem
	if err == nil && build && validateBuild != nil {
		var berr error
		buildWarnings, berr = validateBuild(ctx, cfg)
		if berr = cfg.Locate(berr); berr != nil {
			var ve *config.ValidationError
			errors.As(berr, &ve)
			ve.Problems = append(ve.Problems, cfg.Warnings()...)
			err = ve
		}
	}
	var ve *config.ValidationError
	switch {
	case err == nil:
		for _, p := range append(cfg.Warnings(), buildWarnings...) {
			fmt.Fprintln(w, p)
		}
		_, werr := fmt.Fprintf(w, "%s: ok\n", file)
		return werr
	case errors.As(err, &ve):
		fmt.Fprintln(w, ve.Error())
		n := len(ve.Errors())
		return &exitError{code: 1, err: fmt.Errorf("%s: %d %s", file, n, plural(n, "error", "errors"))}
	default:
		return &exitError{code: 1, err: err}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
