package config

import (
	"strings"
	"testing"
)

func TestPprof(t *testing.T) {
	for _, tc := range []struct {
		name, yaml   string
		err, warning bool
	}{
		{"off by default", `admin: "127.0.0.1:9090"`, false, false},
		{"on with admin", "admin: \"127.0.0.1:9090\"\npprof: true", false, true},
		{"on without admin", "pprof: true", true, false},
		{"explicitly off", "pprof: false", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte(tc.yaml), "pprof.yaml", noEnvPprof)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var p Problems
			checkPprof(&p, c)
			var gotErr, gotWarn bool
			for _, pr := range p.List {
				if pr.Path != "pprof" {
					t.Errorf("problem at %q, want pprof: %+v", pr.Path, pr)
				}
				if pr.Warning {
					gotWarn = true
				} else {
					gotErr = true
				}
			}
			if gotErr != tc.err || gotWarn != tc.warning {
				t.Errorf("checkPprof(%q): error %v warning %v, want %v %v (%+v)", tc.yaml, gotErr, gotWarn, tc.err, tc.warning, p.List)
			}
		})
	}
	c, err := parse([]byte("pprof: yes please"), "pprof.yaml", noEnvPprof)
	if err == nil && c.Pprof {
		t.Errorf("pprof: %q decoded as true", "yes please")
	} else if err != nil && !strings.Contains(err.Error(), "pprof") {
		t.Errorf("parse error %v does not name pprof", err)
	}
}

func noEnvPprof(string) (string, bool) { return "", false }
