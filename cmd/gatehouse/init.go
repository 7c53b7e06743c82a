package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
)

func init() { subcommands = append(subcommands, newInitCmd) }

func newInitCmd() *cobra.Command {
	var (
		specPath, output, upstream string
		force, noValidate          bool
	)
	cmd := &cobra.Command{
		Use:   "init --spec SPEC",
		Short: "Write a secure-by-default gateway config (and a constraints overlay) for an API",
		Long: `Init reads an OpenAPI document and writes, next to -o (default gatehouse.yaml):

  gatehouse.yaml          a commented gateway config: default deny, authn from the security
                          schemes, ownership rules for path ids that name the caller, admin
                          operations behind a role, brute-force limits on logins, request
                          validation, response filtering and masking, strict headers
  gatehouse.overlay.yaml  an OpenAPI Overlay 1.0 with the constraints the audit found missing
                          (maxLength, maxItems, bounds, patterns, additionalProperties: false),
                          for review
  gatehouse.keys.yaml     an empty API-keys file, when the spec has an apiKey scheme

Lines marked REVIEW need a decision. The config is checked with validate before init returns.
Existing files are not overwritten without --force.`,
		Example: `  gatehouse init --spec openapi.yaml
  gatehouse init --spec api.yaml -o deploy/gatehouse.yaml --upstream http://app:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(err error) error { return &exitError{code: 2, err: err} }
			if specPath == "" {
				return usage(errors.New("--spec is required"))
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			files, err := runInit(ctx, specPath, output, upstream, force)
			if err != nil {
				return usage(err)
			}
			out := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintf(out, "wrote %s\n", f)
			}
			if noValidate {
				return nil
			}
			vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return runValidate(vctx, out, output, true)
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "OpenAPI document (3.0, 3.1 or Swagger 2.0)")
	f.StringVarP(&output, "output", "o", "gatehouse.yaml", "config file to write; the overlay and keys file go next to it")
	f.StringVar(&upstream, "upstream", "http://127.0.0.1:5000", "default upstream URL (GATEHOUSE_UPSTREAM overrides it at load)")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	f.BoolVar(&noValidate, "no-validate", false, "do not run validate on the written config")
	return cmd
}

// initFiles returns the overlay and keys file names that go with a config.
func initFiles(output string) (overlay, keys string) {
	base := strings.TrimSuffix(strings.TrimSuffix(output, ".yaml"), ".yml")
	return base + ".overlay.yaml", base + ".keys.yaml"
}

// runInit writes the config, the overlay and (for apiKey schemes) the keys
// file, and returns the paths written.
func runInit(ctx context.Context, specPath, output, upstream string, force bool) ([]string, error) {
	res, err := runWithTimeout(ctx, 30*time.Second, func() (*audit.SetupFiles, error) {
		spec, err := openapi.Load(specPath)
		if err != nil {
			return nil, err
		}
		overlay, keys := initFiles(output)
		dir := filepath.Dir(output)
		rel := func(p string) string {
			absP, err1 := filepath.Abs(p)
			absD, err2 := filepath.Abs(dir)
			if err1 != nil || err2 != nil {
				return p
			}
			r, err := filepath.Rel(absD, absP)
			if err != nil {
				return absP
			}
			return filepath.ToSlash(r)
		}
		return audit.Setup(spec, audit.SetupOptions{SpecRef: rel(specPath), Upstream: upstream,
			OverlayRef: rel(overlay), KeysRef: rel(keys)})
	})
	if err != nil {
		return nil, err
	}
	overlay, keys := initFiles(output)
	todo := []struct {
		path string
		data []byte
	}{{output, res.Config}, {overlay, res.Overlay}}
	if res.Keys != nil {
		todo = append(todo, struct {
			path string
			data []byte
		}{keys, res.Keys})
	}
	if !force {
		for _, f := range todo {
			if _, err := os.Stat(f.path); err == nil {
				return nil, fmt.Errorf("%s exists (use --force to overwrite)", f.path)
			}
		}
	}
	var written []string
	for _, f := range todo {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return written, fmt.Errorf("write %s: %w", f.path, err)
		}
		written = append(written, f.path)
	}
	return written, nil
}

// runWithTimeout runs f in a goroutine and gives up after d (a hostile
// document that makes the parser spin cannot hang the command; the
// abandoned goroutine ends with the process). A panic becomes an error.
func runWithTimeout[T any](ctx context.Context, d time.Duration, f func() (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type out struct {
		v   T
		err error
	}
	done := make(chan out, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				var zero T
				done <- out{zero, fmt.Errorf("%w: %v", audit.ErrPanic, r)}
			}
		}()
		v, err := f()
		done <- out{v, err}
	}()
	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w (%v)", errAuditTimeout, ctx.Err())
	}
}
