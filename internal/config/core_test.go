package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"512", 512, false},
		{"64KiB", 64 << 10, false},
		{"1MiB", 1 << 20, false},
		{"2GiB", 2 << 30, false},
		{"1MB", 1000000, false},
		{"10 KB", 10000, false},
		{"7B", 7, false},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"MiB", 0, true},
		{"1TiB", 0, true},
		{"99999999999999GiB", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestDurationAndSizeYAML(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		S ByteSize `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("d: 1m30s\ns: 1MiB\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.D() != 90*time.Second || v.S != 1<<20 {
		t.Fatalf("got %v %v", v.D, v.S)
	}
	if err := yaml.Unmarshal([]byte("d: 30\n"), &v); err == nil {
		t.Fatal("bare integer duration accepted")
	}
	if err := yaml.Unmarshal([]byte("s: lots\n"), &v); err == nil {
		t.Fatal("bad size accepted")
	}
	out, _ := yaml.Marshal(v)
	if !strings.Contains(string(out), "1MiB") || !strings.Contains(string(out), "1m30s") {
		t.Fatalf("marshal = %s", out)
	}
}

func TestCoreValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // substring of an error ("" = no error)
		warn   string
	}{
		{"defaults ok", func(*Config) {}, "", ""},
		{"wildcard with credentials", func(c *Config) {
			c.CORS.AllowOrigins = []string{"*"}
			c.CORS.AllowCredentials = true
		}, "cors.allow_origins[0]", ""},
		{"wildcard alone ok", func(c *Config) { c.CORS.AllowOrigins = []string{"*"} }, "", ""},
		{"origin with path", func(c *Config) { c.CORS.AllowOrigins = []string{"https://a.example/x"} }, "cors.allow_origins[0]", ""},
		{"origin null", func(c *Config) { c.CORS.AllowOrigins = []string{"null"} }, "cors.allow_origins[0]", ""},
		{"origin suffix wildcard", func(c *Config) { c.CORS.AllowOrigins = []string{"https://*.example.com"} }, "cors.allow_origins[0]", ""},
		{"tls half", func(c *Config) { c.TLS.CertFile = "c.pem" }, "tls.key_file", ""},
		{"zero timeout", func(c *Config) { c.Timeouts.Read = 0 }, "timeouts.read", ""},
		{"bad preset", func(c *Config) { c.Headers.Preset = "lax" }, "headers.preset", ""},
		{"bad detail", func(c *Config) { c.Errors.ValidationDetail = "all" }, "errors.validation_detail", ""},
		{"expose warns", func(c *Config) { c.Errors.ExposeDetails = true }, "", "errors.expose_details"},
		{"bad log", func(c *Config) { c.Log.Format = "xml" }, "log.format", ""},
		{"tiny body", func(c *Config) { c.Limits.MaxBody = 0 }, "limits.max_body", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			c.TLS.setDefaults()
			c.Timeouts.setDefaults()
			c.Limits.setDefaults()
			c.Errors.setDefaults()
			c.Headers.setDefaults()
			c.CORS.setDefaults()
			c.Log.setDefaults()
			tc.mutate(&c)
			var p Problems
			c.TLS.validate(&p, "tls")
			c.Timeouts.validate(&p, "timeouts")
			c.Limits.validate(&p, "limits")
			c.Errors.validate(&p, "errors")
			c.Headers.validate(&p, "headers")
			c.CORS.validate(&p, "cors")
			c.Log.validate(&p, "log")
			var errs, warns []string
			for _, pr := range p.List {
				if pr.Warning {
					warns = append(warns, pr.Path)
				} else {
					errs = append(errs, pr.Path)
				}
			}
			if tc.want == "" && len(errs) > 0 {
				t.Fatalf("unexpected errors %v", p.List)
			}
			if tc.want != "" && !strings.Contains(strings.Join(errs, " "), tc.want) {
				t.Fatalf("errors %v, want one at %s", p.List, tc.want)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(warns, " "), tc.warn) {
				t.Fatalf("warnings %v, want one at %s", p.List, tc.warn)
			}
		})
	}
}
