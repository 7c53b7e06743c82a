package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		code = exitCode(err)
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

const reportSpec = "../../audit/testdata/report-api.yaml"

func TestAuditCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"report only", []string{"audit", reportSpec}, 0, "score: "},
		{"fail-on high", []string{"audit", reportSpec, "--fail-on", "high"}, 1, "at or above high"},
		{"fail-on critical passes", []string{"audit", reportSpec, "--fail-on", "critical"}, 0, "score: "},
		{"min-score", []string{"audit", reportSpec, "--min-score", "99"}, 1, "below --min-score 99"},
		{"min-score met", []string{"audit", reportSpec, "--min-score", "1"}, 0, "score: "},
		{"bad severity", []string{"audit", reportSpec, "--fail-on", "severe"}, 2, "unknown severity"},
		{"bad format", []string{"audit", reportSpec, "--format", "pdf"}, 2, "unknown audit report format"},
		{"no spec", []string{"audit"}, 2, "give a SPEC"},
		{"missing spec", []string{"audit", "nope.yaml"}, 2, "nope.yaml"},
		{"broken spec located", []string{"audit", "testdata/broken.yaml"}, 2, "line 5"},
		{"junk", []string{"audit", "../../audit/testdata/hostile/junk.bin"}, 2, "invalid openapi document"},
		{"overlay needs -c", []string{"audit", reportSpec, "--overlay", "x.yaml"}, 2, "--overlay needs -c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("%v: exit %d, want %d; output lacks %q?\n%s\n%s", tc.args, code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

// TestAuditCommandWithConfig: -c enables the coverage rules, takes the spec
// from the config, and the init-written config covers what init can.
func TestAuditCommandWithConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	spec, _ := filepath.Abs("../../examples/demo/openapi.yaml")
	if err := os.WriteFile(cfg, []byte("upstream: http://127.0.0.1:5000\nspec: "+spec+"\nauthz: { default: public }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmd(t, "audit", "-c", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Config   string
		Findings []struct {
			RuleID string `json:"rule_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		got[f.RuleID] = true
	}
	for _, want := range []string{"GH1401", "GH1402", "GH1403", "GH1404"} {
		if !got[want] {
			t.Errorf("public-by-default config: %s not reported (got %v)", want, got)
		}
	}
	if rep.Config != cfg {
		t.Errorf("config = %q, want %q", rep.Config, cfg)
	}
	// the init-written config closes them
	initCfg := filepath.Join(dir, "init", "gatehouse.yaml")
	os.MkdirAll(filepath.Dir(initCfg), 0o755)
	if _, errOut, code := runCmd(t, "init", "--spec", spec, "-o", initCfg); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	ov, _ := initFiles(initCfg)
	out, errOut, code = runCmd(t, "audit", "-c", initCfg, "--overlay", ov, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.RuleID == "GH1401" || f.RuleID == "GH1403" || f.RuleID == "GH1404" || f.RuleID == "GH1406" {
			t.Errorf("init config + overlay: %s still reported", f.RuleID)
		}
	}
}
