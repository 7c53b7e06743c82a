package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/report"
)

func init() { subcommands = append(subcommands, newAuditCmd) }

// maxSpecSize bounds the document audit reads (a 50 MB junk file is refused
// before the parser sees it).
const maxSpecSize = 32 << 20

func newAuditCmd() *cobra.Command {
	var (
		configPath, format, output, failOn string
		overlays                           []string
		minScore                           int
		timeout                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "audit [SPEC]",
		Short: "Review an OpenAPI document (and optionally a gateway config) for security blunders, with a score",
		Long: `Audit reads an OpenAPI 3.0/3.1 or Swagger 2.0 document and reports what its rules find
(stable ids GH1xxx, severity, OWASP API Top 10 2023 category, JSON pointer and file:line:col),
then a score out of 100 (weighting in docs/audit.md).

With -c, the gateway config is loaded too (the spec defaults to its spec: key) and the coverage
rules report what it leaves open: public operations, id parameters with no ownership rule, admin
operations without a role, logins without brute-force limits, unfiltered responses and unbounded
fields that no --overlay bounds.

Accept a finding in the spec itself with x-gatehouse-ignore: [GH1101] on the object (or any
ancestor; at the root it accepts the rule everywhere).

Exit status: 0, or 1 when a finding is at or above --fail-on or the score is below --min-score,
2 when the document or config cannot be used (with file:line:col where known).`,
		Example: `  gatehouse audit openapi.yaml
  gatehouse audit -c gatehouse.yaml --format sarif -o audit.sarif --fail-on high --min-score 70`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			usage := func(err error) error { return &exitError{code: 2, err: err} }
			rep, err := report.NewAudit(format)
			if err != nil {
				return usage(err)
			}
			var threshold scan.Severity
			if failOn != "" {
				if threshold, err = scan.ParseSeverity(failOn); err != nil {
					return usage(fmt.Errorf("--fail-on: %w", err))
				}
			}
			if minScore < 0 || minScore > 100 {
				return usage(fmt.Errorf("--min-score %d: want 0 to 100", minScore))
			}
			specPath := ""
			if len(args) == 1 {
				specPath = args[0]
			}
			var gw *audit.Gateway
			if configPath != "" {
				cfg, err := config.Check(configPath)
				if err != nil {
					return usage(err)
				}
				gw = gatewayFromConfig(cfg)
				if specPath == "" {
					specPath = cfg.Spec
				}
			}
			if specPath == "" {
				return usage(errors.New("give a SPEC, or -c with a config that names one"))
			}
			if len(overlays) > 0 {
				if gw == nil {
					return usage(errors.New("--overlay needs -c (the coverage rules read it)"))
				}
				for _, o := range overlays {
					b, err := os.ReadFile(o)
					if err != nil {
						return usage(fmt.Errorf("--overlay: %w", err))
					}
					bounded, _, err := audit.OverlayTargets(b)
					if err != nil {
						return usage(fmt.Errorf("--overlay %s: %w", o, err))
					}
					for p := range bounded {
						gw.Bounded[p] = true
					}
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res, err := runAudit(ctx, specPath, gw, version)
			if err != nil {
				return usage(err)
			}
			var w io.Writer = cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return usage(fmt.Errorf("--output: %w", err))
				}
				defer f.Close()
				w = f
			}
			if err := rep.ReportAudit(w, res); err != nil {
				return usage(fmt.Errorf("write report: %w", err))
			}
			if output != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "gatehouse audit: %d findings, score %d/100, report in %s\n", len(res.Findings), res.Score, output)
			}
			if failOn != "" {
				if n := res.Count(threshold); n > 0 {
					return &exitError{code: 1, err: fmt.Errorf("%d finding(s) at or above %s", n, threshold)}
				}
			}
			if res.Score < minScore {
				return &exitError{code: 1, err: fmt.Errorf("score %d is below --min-score %d", res.Score, minScore)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "gateway config: enables the coverage rules")
	f.StringVar(&format, "format", "console", "report format: console, json, sarif or html")
	f.StringVarP(&output, "output", "o", "", "write the report to FILE instead of stdout")
	f.StringVar(&failOn, "fail-on", "", "exit 1 when a finding is at or above this severity (info, low, medium, high, critical)")
	f.IntVar(&minScore, "min-score", 0, "exit 1 when the score is below this (0-100)")
	f.StringArrayVar(&overlays, "overlay", nil, "OpenAPI Overlay file whose bounds count as applied (with -c; repeatable)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up on a document that takes longer than this to load and audit")
	return cmd
}

// errAuditTimeout is returned when loading or auditing outlives the timeout.
var errAuditTimeout = errors.New("gave up: the document took too long to load and audit")

// runAudit loads and audits the spec in a goroutine bounded by ctx, so a
// hostile document that makes the parser spin cannot hang the command
// (the abandoned goroutine ends with the process). Panics become errors.
func runAudit(ctx context.Context, specPath string, gw *audit.Gateway, ver string) (*audit.Result, error) {
	st, err := os.Stat(specPath)
	if err != nil {
		return nil, fmt.Errorf("load spec %q: %w", specPath, err)
	}
	if st.Size() > maxSpecSize {
		return nil, fmt.Errorf("load spec %q: %d bytes is more than the %d MiB audit reads", specPath, st.Size(), maxSpecSize>>20)
	}
	type out struct {
		res *audit.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- out{err: fmt.Errorf("load spec %q: %w: %v", specPath, audit.ErrPanic, r)}
			}
		}()
		spec, err := openapi.Load(specPath)
		if err != nil {
			done <- out{err: err}
			return
		}
		res, err := audit.Run(ctx, spec, audit.Options{Gateway: gw, Version: ver})
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("audit %q: %w (%v)", specPath, errAuditTimeout, ctx.Err())
	}
}

// gatewayFromConfig extracts what the coverage rules read.
func gatewayFromConfig(cfg *config.Config) *audit.Gateway {
	gw := &audit.Gateway{File: cfg.File, Default: cfg.Authz.Default, ResponseMode: cfg.Response.Mode,
		MaxStringLength: int64(cfg.Request.MaxStringLength), MaxArrayLength: cfg.Request.MaxArrayLength,
		Bounded: map[string]bool{}}
	for key, r := range cfg.Authz.Rules {
		if r == nil {
			continue
		}
		gr := audit.GatewayRule{Key: key, Public: r.Public, Authenticated: r.Authenticated, Allow: r.Allow,
			OwnerResponse: r.OwnerResponse != nil}
		gr.Roles = append(append(append(gr.Roles, r.Roles...), r.RolesAll...), r.Scopes...)
		if r.Owner != nil {
			gr.OwnerParam = r.Owner.Param
		}
		gw.Rules = append(gw.Rules, gr)
	}
	if l := cfg.RateLimits.Login; l != nil {
		gw.LoginOperations = l.Operations
	}
	for _, l := range cfg.RateLimits.Limits {
		gw.Limits = append(gw.Limits, audit.GatewayLimit{Name: l.Name, Operations: l.Operations})
	}
	return gw
}
