package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsPrintRedacted prints secrets, and a whole Config holding one,
// through every printer a log line could use.
func TestSecretsPrintRedacted(t *testing.T) {
	const hs = "hs-value-that-must-not-print-0123456789"
	const admin = "admin-value-that-must-not-print"
	env := map[string]string{"HS": hs}
	c, err := parse([]byte(`
authn:
  jwt:
    - issuer: x
      audiences: [a]
      algorithms: [HS256]
      hs_secret: ${HS}
`), "c.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	sec := c.Authn.JWT[0].HSSecret
	if string(sec.Value()) != hs {
		t.Fatalf("Value() lost the secret")
	}
	tok := SecretBytes(admin)
	var outs []string
	for _, v := range []any{sec, &sec, tok, c.Authn.JWT[0], c, struct{ T SecretBytes }{tok}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outs = append(outs, string(b))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("m", "v", v)
			outs = append(outs, buf.String())
		}
	}
	if !strings.Contains(fmt.Sprint(sec), "<secret>") || !strings.Contains(fmt.Sprint(tok), "<secret>") {
		t.Errorf("secrets do not print as <secret>: %v %v", sec, tok)
	}
	hexHS, hexAdmin := fmt.Sprintf("%x", hs), fmt.Sprintf("%x", admin)
	for _, o := range outs {
		for _, s := range []string{hs, admin, hexHS, hexAdmin, hs[:12], admin[:12]} {
			if strings.Contains(o, s) {
				t.Errorf("printed secret: %s", o)
			}
		}
	}
}

func TestWeakSecretsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		yaml      string
		env       map[string]string
		path      string
		wantError bool // false: a warning at path
	}{
		{"hs_secret from the JWT list", "authn: {jwt: [{issuer: x, audiences: [a], algorithms: [HS256], hs_secret: '${S}'}]}",
			map[string]string{"S": "your-256-bit-secret"}, "authn.jwt[0].hs_secret", true},
		{"hs_secret from the password list, upper case", "authn: {jwt: [{issuer: x, audiences: [a], algorithms: [HS256], hs_secret: '${S}'}]}",
			map[string]string{"S": "UNBELIEVABLE"}, "authn.jwt[0].hs_secret", true},
		{"hs_secret weak but allowed", "authn: {jwt: [{issuer: x, audiences: [a], algorithms: [HS256], hs_secret: '${S}', allow_weak_secret: true}]}",
			map[string]string{"S": "your-256-bit-secret"}, "authn.jwt[0].hs_secret", false},
		{"admin token weak", "admin_auth: {token_env: TOK}", map[string]string{"TOK": "your-256-bit-secret"}, "admin_auth", true},
		{"admin token weak but allowed", "admin_auth: {token_env: TOK, allow_weak_secret: true}", map[string]string{"TOK": "Your-256-Bit-Secret"}, "admin_auth", false},
		{"client secret weak", "authn: {introspection: {endpoint: 'http://127.0.0.1:9/i', client_id: g, client_secret: '${CS}', audiences: [a]}}",
			map[string]string{"CS": "changeme"}, "authn.introspection.client_secret", false},
		{"redis password inline", "rate_limits: {store: 'redis://:hunter2-pw@127.0.0.1:6379/0'}", nil, "rate_limits.store", false},
		{"revocation redis password inline", "authn: {revocation: {store: 'redis://u:hunter2-pw@127.0.0.1:6379/0'}}", nil, "authn.revocation.store", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfgPath := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(cfgPath, []byte("upstream: http://127.0.0.1:1\nspec: spec.yaml\nauthz: {default: public}\n"+tt.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(cfgPath)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			err = c.Validate()
			var list []Problem
			if err != nil {
				list = err.(*ValidationError).Problems
			} else {
				list = c.Warnings()
			}
			found := false
			for _, p := range list {
				if p.Path == tt.path && p.Warning == !tt.wantError && strings.Contains(p.Msg, map[bool]string{true: "weak", false: ""}[!strings.Contains(tt.name, "redis")]) {
					found = true
				}
				for _, v := range tt.env {
					if strings.Contains(p.String(), v) {
						t.Errorf("problem prints the secret: %s", p)
					}
				}
				if strings.Contains(p.String(), "hunter2") {
					t.Errorf("problem prints the Redis password: %s", p)
				}
			}
			if !found {
				t.Errorf("problems = %v, want a %s at %s", list, map[bool]string{true: "error", false: "warning"}[tt.wantError], tt.path)
			}
		})
	}
	// The same Redis URL from ${ENV}: no warning.
	t.Setenv("REDIS_URL", "redis://:hunter2-pw@127.0.0.1:6379/0")
	cfgPath := filepath.Join(dir, "env.yaml")
	_ = os.WriteFile(cfgPath, []byte("upstream: http://127.0.0.1:1\nspec: spec.yaml\nauthz: {default: public}\nrate_limits: {store: '${REDIS_URL}'}\n"), 0o600)
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Validate()
	for _, p := range c.Warnings() {
		if strings.Contains(p.Msg, "inline") {
			t.Errorf("warning for a ${ENV} Redis URL: %s", p)
		}
	}
}
