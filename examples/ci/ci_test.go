// Package ci holds CI recipes for gatehouse users (github-actions.yml,
// gitlab-ci.yml); its test checks that they are valid YAML with the keys
// each CI system needs and that they use only flags the commands have.
package ci

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func read(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// commandFlags reads the long flag names a command file declares
// (f.StringVar(&x, "name", ...)), so a recipe cannot use a flag that does not exist.
func commandFlags(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile("../../cmd/gatehouse/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`f\.\w+Var[P]?\(&\w+, "([a-z-]+)"`).FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) < 3 {
		t.Fatalf("found only %v in %s: the flag pattern is out of date", out, file)
	}
	return out
}

var flagRe = regexp.MustCompile(`(?:^|\s)--([a-z-]+)`)

// checkCommand finds the `gatehouse <sub>` invocation in script, checks its
// flags against the command's and returns the SARIF file it writes.
func checkCommand(t *testing.T, script, sub, file string) string {
	t.Helper()
	i := strings.Index(script, "gatehouse "+sub+" ")
	if i < 0 {
		t.Fatalf("no `gatehouse %s` in:\n%s", sub, script)
	}
	line := script[i:]
	if j := strings.Index(line, "\n"); j >= 0 && !strings.Contains(line[:j], "--output") {
		t.Fatalf("`gatehouse %s` without --output on its line: %s", sub, line[:j])
	} else if j >= 0 {
		line = line[:j]
	}
	known := commandFlags(t, file)
	for _, m := range flagRe.FindAllStringSubmatch(line, -1) {
		if !slices.Contains(known, m[1]) {
			t.Errorf("gatehouse %s has no flag --%s (has %v)", sub, m[1], known)
		}
	}
	if !strings.Contains(line, "--format sarif") {
		t.Errorf("gatehouse %s does not write SARIF: %s", sub, line)
	}
	out := regexp.MustCompile(`--output ("?)([^\s"]+)`).FindStringSubmatch(line)
	if out == nil {
		t.Fatalf("gatehouse %s: no --output FILE", sub)
	}
	return out[2]
}

func ciGoVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`GOTOOLCHAIN=go([0-9.]+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no GOTOOLCHAIN in .ci/run")
	}
	return string(m[1])
}

type ghStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	If   string            `yaml:"if"`
	With map[string]string `yaml:"with"`
}

func TestGitHubActions(t *testing.T) {
	var wf struct {
		Name string         `yaml:"name"`
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			RunsOn      string            `yaml:"runs-on"`
			Permissions map[string]string `yaml:"permissions"`
			Services    map[string]struct {
				Image string   `yaml:"image"`
				Ports []string `yaml:"ports"`
			} `yaml:"services"`
			Steps []ghStep `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read(t, "github-actions.yml", &wf)
	if wf.Name == "" || len(wf.On) == 0 || len(wf.Jobs) != 1 {
		t.Fatalf("want name, on and one job; got %q, %v, %d jobs", wf.Name, wf.On, len(wf.Jobs))
	}
	for name, job := range wf.Jobs {
		if job.RunsOn == "" {
			t.Errorf("job %s: no runs-on", name)
		}
		if job.Permissions["security-events"] != "write" {
			t.Errorf("job %s: permissions.security-events = %q, want write (upload-sarif needs it)", name, job.Permissions["security-events"])
		}
		if len(job.Services) == 0 {
			t.Errorf("job %s: no service to scan", name)
		}
		for s, svc := range job.Services {
			if svc.Image == "" || len(svc.Ports) == 0 {
				t.Errorf("service %s: image %q ports %v", s, svc.Image, svc.Ports)
			}
		}
		var all strings.Builder
		installed, goVersion := false, ""
		for _, st := range job.Steps {
			all.WriteString(st.Run + "\n")
			if strings.Contains(st.Run, "go install github.com/gatehouse/gatehouse/cmd/gatehouse@") {
				installed = true
			}
			if strings.HasPrefix(st.Uses, "actions/setup-go@") {
				goVersion = st.With["go-version"]
			}
		}
		if !installed {
			t.Error("no step installs gatehouse with go install")
		}
		if want := ciGoVersion(t); goVersion != want {
			t.Errorf("setup-go go-version %q, want %s (the Go .ci/run builds with)", goVersion, want)
		}
		for _, c := range []struct{ sub, file string }{{"scan", "scan.go"}, {"audit", "audit.go"}} {
			sarif := checkCommand(t, all.String(), c.sub, c.file)
			up := slices.IndexFunc(job.Steps, func(s ghStep) bool {
				return strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") && s.With["sarif_file"] == sarif
			})
			if up < 0 {
				t.Errorf("no github/codeql-action/upload-sarif step uploads %s (from gatehouse %s)", sarif, c.sub)
				continue
			}
			if !strings.Contains(job.Steps[up].If, "always()") {
				t.Errorf("upload of %s runs only on success (if: %q): a scan that finds something fails the step", sarif, job.Steps[up].If)
			}
		}
	}
}

func TestGitLabCI(t *testing.T) {
	var doc map[string]yaml.Node
	read(t, "gitlab-ci.yml", &doc)
	var job struct {
		Stage    string `yaml:"stage"`
		Image    string `yaml:"image"`
		Services []struct {
			Name  string `yaml:"name"`
			Alias string `yaml:"alias"`
		} `yaml:"services"`
		Variables map[string]string `yaml:"variables"`
		Script    []string          `yaml:"script"`
		Artifacts struct {
			When  string   `yaml:"when"`
			Paths []string `yaml:"paths"`
		} `yaml:"artifacts"`
	}
	node, ok := doc["gatehouse"]
	if !ok {
		t.Fatal("no job named gatehouse")
	}
	if err := node.Decode(&job); err != nil {
		t.Fatal(err)
	}
	if job.Stage == "" || len(job.Services) == 0 || job.Services[0].Alias == "" {
		t.Fatalf("want a stage and an aliased service; got %+v", job)
	}
	if !strings.Contains(job.Variables["TARGET"], "://"+job.Services[0].Alias+":") {
		t.Errorf("TARGET %q does not address the service alias %q", job.Variables["TARGET"], job.Services[0].Alias)
	}
	if want := "golang:" + ciGoVersion(t); !strings.HasPrefix(job.Image, want) {
		t.Errorf("image %q, want %s (the Go .ci/run builds with)", job.Image, want)
	}
	script := strings.Join(job.Script, "\n")
	if !strings.Contains(script, "go install github.com/gatehouse/gatehouse/cmd/gatehouse@") {
		t.Error("the script does not install gatehouse with go install")
	}
	if job.Artifacts.When != "always" {
		t.Errorf("artifacts.when = %q, want always (a scan with findings fails the job)", job.Artifacts.When)
	}
	for _, c := range []struct{ sub, file string }{{"scan", "scan.go"}, {"audit", "audit.go"}} {
		sarif := checkCommand(t, script, c.sub, c.file)
		if !slices.Contains(job.Artifacts.Paths, sarif) {
			t.Errorf("artifacts.paths %v lacks %s (from gatehouse %s)", job.Artifacts.Paths, sarif, c.sub)
		}
	}
}
