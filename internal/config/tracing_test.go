package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkTracing loads a minimal config with the given tracing section and
// returns its errors and warnings as "path: msg" lines.
func checkTracing(t *testing.T, section string) (c *Config, errs, warns []string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte("openapi: 3.1.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(f, []byte("upstream: \"http://127.0.0.1:5000\"\nspec: openapi.yaml\n"+section), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Check(f)
	var ve *ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Errors() {
			errs = append(errs, p.Path+": "+p.Msg)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		for _, p := range c.Warnings() {
			warns = append(warns, p.Path+": "+p.Msg)
		}
	}
	return c, errs, warns
}

func TestTracingConfig(t *testing.T) {
	c, errs, warns := checkTracing(t, "")
	if len(errs) != 0 || c.Tracing.Enabled || c.Tracing.SampleRatio != 1 || c.Tracing.ServiceName != "gatehouse" ||
		c.Tracing.Protocol != TracingProtocolHTTP || c.Tracing.TrustIncoming {
		t.Fatalf("defaults: %+v, errors %v", c.Tracing, errs)
	}
	for _, w := range warns {
		if strings.HasPrefix(w, "tracing") {
			t.Errorf("default config warns %q", w)
		}
	}

	t.Setenv("GH_TEST_OTLP_AUTH", "Bearer x")
	for _, tc := range []struct {
		name, yaml string
		err, warn  string // substrings of one error / warning ("" = none)
		url        string // ExportURL of a valid config
	}{
		{name: "https base", yaml: "tracing: { enabled: true, endpoint: \"https://c:4318\" }", url: "https://c:4318/v1/traces"},
		{name: "https slash", yaml: "tracing: { enabled: true, endpoint: \"https://c:4318/\" }", url: "https://c:4318/v1/traces"},
		{name: "custom path", yaml: "tracing: { enabled: true, endpoint: \"https://c/otlp/v1/traces\" }", url: "https://c/otlp/v1/traces"},
		{name: "http insecure", yaml: "tracing: { enabled: true, endpoint: \"http://127.0.0.1:4318\", insecure: true }", url: "http://127.0.0.1:4318/v1/traces"},
		{name: "header from env", yaml: "tracing: { enabled: true, endpoint: \"https://c\", headers: { authorization: \"${GH_TEST_OTLP_AUTH}\" } }", url: "https://c/v1/traces"},
		{name: "plain http refused", yaml: "tracing: { enabled: true, endpoint: \"http://c:4318\" }", err: "tracing.endpoint: endpoint \"http://c:4318\" is plain http"},
		{name: "no endpoint", yaml: "tracing: { enabled: true }", err: "tracing.endpoint: endpoint is required"},
		{name: "grpc scheme", yaml: "tracing: { enabled: true, endpoint: \"grpc://c:4317\" }", err: "must be an http:// or https:// URL"},
		{name: "host-less", yaml: "tracing: { enabled: true, endpoint: \"https:///v1/traces\" }", err: "has no host"},
		{name: "userinfo", yaml: "tracing: { enabled: true, endpoint: \"https://u:p@c\" }", err: "must not carry credentials"},
		{name: "query", yaml: "tracing: { enabled: true, endpoint: \"https://c/?k=v\" }", err: "query or fragment"},
		{name: "protocol grpc", yaml: "tracing: { enabled: true, endpoint: \"https://c\", protocol: grpc }", err: "tracing.protocol"},
		{name: "ratio high", yaml: "tracing: { enabled: true, endpoint: \"https://c\", sample_ratio: 1.5 }", err: "tracing.sample_ratio: sample_ratio must be between 0 and 1"},
		{name: "ratio negative", yaml: "tracing: { enabled: true, endpoint: \"https://c\", sample_ratio: -0.1 }", err: "sample_ratio must be between 0 and 1"},
		{name: "ratio nan", yaml: "tracing: { enabled: true, endpoint: \"https://c\", sample_ratio: .nan }", err: "sample_ratio must be between 0 and 1"},
		{name: "empty service", yaml: "tracing: { enabled: true, endpoint: \"https://c\", service_name: \" \" }", err: "service_name must not be empty"},
		{name: "bad header name", yaml: "tracing: { enabled: true, endpoint: \"https://c\", headers: { \"x y\": v } }", err: "is not a valid header name"},
		{name: "header CRLF", yaml: "tracing: { enabled: true, endpoint: \"https://c\", headers: { x-a: \"v\\r\\nx-b: w\" } }", err: "line break"},
		{name: "unknown key", yaml: "tracing: { enabled: true, endpoint: \"https://c\", sampler: always }", err: "sampler"},
		{name: "inline credential", yaml: "tracing: { enabled: true, endpoint: \"https://c\", headers: { x-api-key: abc } }", warn: "tracing.headers.x-api-key: a collector credential is written inline", url: "https://c/v1/traces"},
		{name: "insecure with https", yaml: "tracing: { enabled: true, endpoint: \"https://c\", insecure: true }", warn: "tracing.insecure: insecure has no effect", url: "https://c/v1/traces"},
		{name: "endpoint while off", yaml: "tracing: { endpoint: \"https://c\" }", warn: "tracing.enabled: tracing is not enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errs, warns := checkTracing(t, tc.yaml+"\n")
			has := func(list []string, sub string) bool {
				for _, s := range list {
					if strings.Contains(s, sub) {
						return true
					}
				}
				return false
			}
			if tc.err == "" && len(errs) > 0 {
				t.Fatalf("errors %q, want none", errs)
			}
			if tc.err != "" && (len(errs) != 1 || !has(errs, tc.err)) {
				t.Fatalf("errors %q, want one containing %q", errs, tc.err)
			}
			if tc.warn != "" && !has(warns, tc.warn) {
				t.Errorf("warnings %q, want one containing %q", warns, tc.warn)
			}
			if tc.warn == "" && has(warns, "tracing") {
				t.Errorf("unexpected tracing warning in %q", warns)
			}
			if tc.url != "" && c.Tracing.ExportURL() != tc.url {
				t.Errorf("ExportURL() = %q, want %q", c.Tracing.ExportURL(), tc.url)
			}
		})
	}
}
