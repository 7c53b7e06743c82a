package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

// TestLoginKeysReportedAtTheirLine: failure_when and account_match are
// checked when the config loads (CEL compiled and type-checked), each
// error pointing at its key's line.
func TestLoginKeysReportedAtTheirLine(t *testing.T) {
	spec, err := filepath.Abs("testdata/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, login, want string }{
		{"not bool", `    failure_when: 'response.status'`, `:9:19: rate_limits.login.failure_when: ratelimit: cel key: failure_when returns int, want bool`},
		{"unknown variable", `    failure_when: 'request.ip == ""'`, `:9:19: rate_limits.login.failure_when: ratelimit: cel key: ERROR: <input>:1:1: undeclared reference to 'request'`},
		{"syntax", `    failure_when: 'response.status =='`, `:9:19: rate_limits.login.failure_when: ratelimit: cel key: ERROR`},
		{"account_match", `    account_match: Fold`, `:9:20: rate_limits.login.account_match: account_match must be fold or exact, not "Fold"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "gatehouse.yaml")
			cfg := "upstream: http://127.0.0.1:5000\nspec: " + spec + "\nrate_limits:\n  login:\n    operations: [login]\n    account_field: /username\n" +
				"    lockout: { after_failures: 3, base: 1m, max: 1h }\n    per_ip: { rate: 10/min }\n" + tt.login + "\n"
			if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Check(p)
			if err == nil || !strings.Contains(err.Error(), "gatehouse.yaml"+tt.want) {
				t.Fatalf("Check = %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

// TestConcurrencyKeysReportedAtTheirLine: rate_limits.concurrency is
// validated at load, each error at its key.
func TestConcurrencyKeysReportedAtTheirLine(t *testing.T) {
	spec, err := filepath.Abs("testdata/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cfg := "upstream: http://127.0.0.1:5000\nspec: " + spec + "\nrate_limits:\n  concurrency:\n    status: 500\n    max_in_flight: -1\n" +
		"    operations:\n      getUser: { per_key: { key: nope, max_in_flight: 0 } }\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Check(p)
	for _, want := range []string{
		`gatehouse.yaml:5:13: rate_limits.concurrency.status: status must be 503 or 429, not 500`,
		`gatehouse.yaml:6:20: rate_limits.concurrency.max_in_flight: max_in_flight must not be negative`,
		`rate_limits.concurrency.operations.getUser.per_key.key: ratelimit: unknown key "nope"`,
		`rate_limits.concurrency.operations.getUser.per_key.max_in_flight: max_in_flight must be at least 1`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v\nwant an error containing %q", err, want)
		}
	}
}
