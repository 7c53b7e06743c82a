//go:build !nodemo

// The demo (a deliberately vulnerable API on SQLite, scanned, protected and
// scanned again) is left out of release builds: -tags nodemo (scripts/release,
// deploy/) drops this file, the vulnerable APIs and the SQLite driver.

package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/demo"
)

func init() { subcommands = append(subcommands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var o demo.Options
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR] [--keep-running]",
		Short: "Scan a built-in vulnerable API, put gatehouse in front of it, scan again",
		Long: `Demo tells gatehouse's whole story in one command, on loopback ports, with nothing
to install:

  1. it starts a deliberately vulnerable API (BOLA, SQL injection, weak JWTs that
     never expire and survive logout, password hashes in responses, mass assignment,
     stack traces, open admin endpoints, no rate limit, permissive CORS...);
  2. scans it directly with two users and an admin;
  3. starts the gateway in front of a second copy of it, configured by
     examples/demo/gatehouse.yaml, and mints tokens the gateway trusts;
  4. runs the same scan through the gateway and prints a before/after table by
     OWASP API Top 10 category.

The HTML reports, the gateway config, its key pair and its log are written to --dir
(a new temporary folder by default). With --keep-running both servers stay up and
their URLs and tokens are printed, so you can try curl by hand; Ctrl-C stops them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			o.Out = cmd.ErrOrStderr()
			o.Version = version
			res, err := demo.Run(ctx, o)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer res.Env.Close()
			demo.PrintTable(out, res)
			fmt.Fprintf(out, "Reports: %s/direct.html and %s/protected.html (gateway log: %s/gateway.log)\n", res.Dir, res.Dir, res.Dir)
			if !keep {
				return nil
			}
			fmt.Fprintf(out, "\nVulnerable API:      %s\nThrough gatehouse:   %s\n\nTokens the gateway trusts (1 h):\n", res.Env.DirectURL, res.Env.GatewayURL)
			for _, u := range []string{"alice", "bob", "admin"} {
				fmt.Fprintf(out, "  %-5s %s\n", u, res.Env.Tokens[u])
			}
			fmt.Fprintf(out, "\nTry:\n  curl -s %s/users/3 -H \"Authorization: Bearer $ALICE\"   # alice reads bob: 403 through gatehouse\n", res.Env.GatewayURL)
			fmt.Fprintf(out, "  curl -s %s/users -H 'Authorization: Bearer ...'   # no password hashes through gatehouse\n\nCtrl-C to stop.\n", res.Env.GatewayURL)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "folder for reports, config, keys and the gateway log (default: a new temporary folder)")
	cmd.Flags().BoolVar(&keep, "keep-running", false, "leave both servers running and print their URLs and tokens")
	cmd.Flags().StringVar(&o.Checks, "checks", "", "checks to run, as scan --checks (default: all)")
	return cmd
}

var _ = context.Background
