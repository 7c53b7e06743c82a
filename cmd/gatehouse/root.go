package main

import (
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

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
		Use:           "gatehouse",
		Short:         "API security gateway, scanner and auditor driven by the OpenAPI contract",
		Long:          `gatehouse protects and tests HTTP/JSON APIs using their OpenAPI contract as the policy.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	// Subcommands register themselves in their own files (serve.go, validate.go, scan.go, ...).
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	root.Long += "\n\n" + commandOverview(root)
	return root
}

// commandOrder is the order of the overview in the top-level help: the
// three jobs first, then the helpers. Commands not listed follow by name.
var commandOrder = []string{"serve", "scan", "audit", "demo", "init", "validate", "token", "apikey", "version"}

// commandOverview lists every registered command with its short help, so
// the overview cannot miss one (a build with -tags nodemo has no demo).
func commandOverview(root *cobra.Command) string {
	cmds := root.Commands()
	rank := func(c *cobra.Command) int {
		for i, n := range commandOrder {
			if c.Name() == n {
				return i
			}
		}
		return len(commandOrder)
	}
	slices.SortStableFunc(cmds, func(a, b *cobra.Command) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Name(), b.Name()))
	})
	var b strings.Builder
	for _, c := range cmds {
		if c.Hidden || !c.IsAvailableCommand() {
			continue
		}
		fmt.Fprintf(&b, "  %-9s %s\n", c.Name(), strings.ToLower(c.Short[:1])+c.Short[1:])
	}
	return strings.TrimRight(b.String(), "\n")
}

// subcommands is appended to by each command file's init, so that files owned
// by different work items do not collide in this one.
var subcommands []func() *cobra.Command

// displayVersion is the stamped version (-ldflags "-X main.version=v1.2.3"),
// else the module version (go install …@v1.2.3), else, for a build from a
// git checkout ("(devel)"), the commit, its time and "+dirty" when the
// tree had changes, from the VCS stamp the go command embeds.
func displayVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fmt.Sprintf("(devel) %s%s %s %s", rev, dirty, at, bi.GoVersion)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatehouse version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s\n", displayVersion())
			return err
		},
	}
}
