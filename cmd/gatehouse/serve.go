package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

func init() {
	subcommands = append(subcommands, newServeCmd)
	validateBuild = func(ctx context.Context, cfg *config.Config) ([]config.Problem, error) {
		p, err := gateway.Build(ctx, cfg, gateway.Deps{})
		if err != nil {
			return nil, err
		}
		defer p.Close()
		// Operations whose effective rule is public are listed as warnings.
		ws, err := gateway.AuthzWarnings(cfg, p.Spec())
		ws = append(ws, gateway.OverlayNotes(cfg, p)...)
		return append(ws, gateway.SpecWarnings(cfg, p)...), err
	}
}

func newServeCmd() *cobra.Command {
	var (
		file         string
		enableReload bool
		noWatch      bool
	)
	cmd := &cobra.Command{
		Use:   "serve [-c FILE]",
		Short: "Run the security gateway (reverse proxy) in front of an API",
		Long: `Serve runs the gateway: it loads and validates the config, loads the OpenAPI spec,
compiles every stage once, and proxies requests that match the spec to the upstream.

Request path: request ID + access log -> panic recovery -> security headers -> CORS ->
route match (unknown route 404, wrong method 405) -> authn -> rate limit -> authz ->
request validation -> response filter -> upstream. Every error leaves as a generic
application/problem+json body carrying the request ID; details go to the log only.

One JSON access/audit line per request goes to stderr (log.level, log.format).
The admin listener (admin: "127.0.0.1:9090"; off when empty) serves /healthz, /readyz,
/metrics and, with --enable-reload, POST /-/reload.

Signals: SIGTERM/SIGINT drain in-flight requests (timeouts.shutdown) and exit;
SIGHUP reloads. The config, spec and spec_overlays files are also watched and reloaded on change
(--no-watch turns that off). A reload that fails to load, validate or build is
logged and the running config keeps serving.`,
		Example: `  gatehouse serve -c examples/basic/gatehouse.yaml
  gatehouse serve -c /etc/gatehouse/gatehouse.yaml --enable-reload`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), file, enableReload, !noWatch)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "gatehouse.yaml", "config file")
	cmd.Flags().BoolVar(&enableReload, "enable-reload", false, "serve POST /-/reload on the admin listener")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not reload when the config, spec or an overlay file changes")
	return cmd
}

func runServe(ctx context.Context, file string, enableReload, watch bool) error {
	err := gateway.RunProcess(ctx, gateway.ServerOptions{ConfigPath: file, EnableReload: enableReload, Watch: watch})
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			os.Stderr.WriteString(p.String() + "\n")
		}
		return &exitError{code: 1, err: errors.New("invalid config")}
	}
	return err
}
