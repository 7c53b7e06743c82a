package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/authn/apikey"
)

func init() { subcommands = append(subcommands, newAPIKeyCmd) }

func newAPIKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Manage API keys (the gateway stores only their hashes)",
	}
	cmd.AddCommand(newAPIKeyNewCmd())
	return cmd
}

func newAPIKeyNewCmd() *cobra.Command {
	var (
		subject, expires string
		roles, scopes    []string
	)
	cmd := &cobra.Command{
		Use:   "new --subject S [--roles a,b --scopes x,y --expires 2026-12-31]",
		Short: "Print a fresh 256-bit API key and the line to paste into the keys file",
		Long: `New prints a fresh random API key (256 bits, prefix ghk_) and the keys-file line that
holds only its SHA-256 hash. Give the key to its user once; it cannot be recovered
from the keys file (authn.api_keys.file). To revoke it, delete its line.`,
		Example: `  gatehouse apikey new --subject ci-bot --roles deployer --expires 2026-12-31 >> /dev/tty`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if subject == "" {
				return fmt.Errorf("--subject is required")
			}
			if expires != "" {
				if _, err := time.Parse(time.DateOnly, expires); err != nil {
					if _, err := time.Parse(time.RFC3339, expires); err != nil {
						return fmt.Errorf("--expires %q: want YYYY-MM-DD or RFC 3339", expires)
					}
				}
			}
			key, digest, err := apikey.Generate()
			if err != nil {
				return err
			}
			line, err := keysFileLine(digest, subject, roles, scopes, expires)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "key: %s\n# add to the keys file (authn.api_keys.file):\n%s\n", key, line)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&subject, "subject", "", "who the key belongs to (principal subject)")
	fl.StringSliceVar(&roles, "roles", nil, "roles, comma-separated")
	fl.StringSliceVar(&scopes, "scopes", nil, "scopes, comma-separated")
	fl.StringVar(&expires, "expires", "", "expiry: YYYY-MM-DD (end of that day, UTC) or RFC 3339")
	return cmd
}

// keysFileLine renders one keys-file entry as a YAML flow mapping (JSON is
// valid YAML, and JSON quoting keeps any subject or role text safe).
func keysFileLine(d apikey.Digest, subject string, roles, scopes []string, expires string) (string, error) {
	e := struct {
		Hash    string   `json:"hash"`
		Subject string   `json:"subject"`
		Roles   []string `json:"roles,omitempty"`
		Scopes  []string `json:"scopes,omitempty"`
		Expires string   `json:"expires,omitempty"`
	}{d.String(), subject, roles, scopes, expires}
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	return "- " + string(b), nil
}
