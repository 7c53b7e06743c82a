package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/demo/vulnapi"
)

func runScanCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"scan", "--quiet"}, args...))
	err := root.Execute()
	if err != nil {
		code = exitCode(err)
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func demoTarget(t *testing.T, fixed bool) (url, spec string) {
	t.Helper()
	api, err := vulnapi.New(vulnapi.Options{Fixed: fixed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec = filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(spec, vulnapi.Spec, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, spec
}

var demoIDs = []string{
	"--identity", "alice=login:login:username=alice,password=alice-pw",
	"--identity", "bob=login:login:username=bob,password=bob-pw",
	"--identity", "admin=login:login:username=admin,password=admin-pw",
}

func TestScanCommandExitCodes(t *testing.T) {
	url, spec := demoTarget(t, false)
	t.Run("vulnerable: findings, exit 1, JSON report", func(t *testing.T) {
		out, errOut, code := runScanCmd(t, append([]string{"--spec", spec, "--target", url, "--format", "json", "--fail-on", "high"}, demoIDs...)...)
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
		}
		var rep struct {
			Findings []struct {
				CheckID     string `json:"check_id"`
				Fingerprint string `json:"fingerprint"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) < 10 {
			t.Fatalf("report: %v, %d findings", err, len(rep.Findings))
		}
		// The report itself is a baseline: the same scan is then clean.
		base := filepath.Join(t.TempDir(), "baseline.json")
		if err := os.WriteFile(base, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		url2, spec2 := demoTarget(t, false)
		_, errOut, code = runScanCmd(t, append([]string{"--spec", spec2, "--target", url2, "--baseline", base, "--fail-on", "low", "--format", "junit"}, demoIDs...)...)
		if code != 0 {
			t.Errorf("with the baseline: exit %d, want 0; %s", code, errOut)
		}
	})
	t.Run("fixed: exit 0", func(t *testing.T) {
		url, spec := demoTarget(t, true)
		out, errOut, code := runScanCmd(t, append([]string{"--spec", spec, "--target", url, "--fail-on", "info"}, demoIDs...)...)
		if code != 0 {
			t.Errorf("exit %d, want 0; %s\n%s", code, errOut, out)
		}
		if !strings.Contains(out, "No findings.") {
			t.Errorf("console report: %s", out)
		}
	})
	t.Run("target down: exit 2", func(t *testing.T) {
		_, errOut, code := runScanCmd(t, "--spec", spec, "--target", "http://127.0.0.1:1")
		if code != 2 || !strings.Contains(errOut, "not reachable") {
			t.Errorf("exit %d (%s), want 2 and a clear message", code, errOut)
		}
	})
	t.Run("bad spec: exit 2 naming the problem", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte("openapi: 3.1.0\npaths: [\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runScanCmd(t, "--spec", bad, "--target", url)
		if code != 2 || !strings.Contains(errOut, "bad.yaml") {
			t.Errorf("exit %d (%s), want 2 naming the file", code, errOut)
		}
	})
	t.Run("bad flags: exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"--spec", spec, "--target", url, "--checks", "nosuch"},
			{"--spec", spec, "--target", url, "--fail-on", "severe"},
			{"--spec", spec, "--target", url, "--format", "pdf"},
			{"--spec", spec, "--target", url, "--identity", "x=login:nosuchop:a=b"},
			{"--target", url},
		} {
			if _, errOut, code := runScanCmd(t, args...); code != 2 {
				t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
			}
		}
	})
	t.Run("cookie identity on a token API: exit 2 naming the missing session cookie", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "scan.yaml")
		if err := os.WriteFile(cfg, []byte(`identities:
  - name: alice
    login: { operation: login, fields: { username: alice, password: alice-pw }, cookie: true, csrf_header: X-XSRF-TOKEN }
`), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"--spec", spec, "--target", url, "--checks", "bola", "--identity", "alice=cookie:login:username=alice,password=alice-pw"},
			{"--spec", spec, "--target", url, "--checks", "bola", "--scan-config", cfg},
		} {
			if _, errOut, code := runScanCmd(t, args...); code != 2 || !strings.Contains(errOut, "no session cookie") {
				t.Errorf("%v: exit %d (%s), want 2 naming the missing session cookie", args, code, errOut)
			}
		}
	})
	t.Run("scan config file", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "scan.yaml")
		t.Setenv("ALICE_PW", "alice-pw")
		if err := os.WriteFile(cfg, []byte(`spec: `+spec+`
target: `+url+`
checks: bfla
identities:
  - name: alice
    login: { operation: login, fields: { username: alice, password: "${ALICE_PW}" } }
  - name: boss
    privileged: true
    login: { operation: login, fields: { username: admin, password: admin-pw } }
`), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runScanCmd(t, "--scan-config", cfg, "--format", "json")
		if code != 1 || !strings.Contains(out, `"GH2011"`) {
			t.Errorf("exit %d (%s), want 1 with a GH2011 finding:\n%s", code, errOut, out)
		}
	})
}

func TestScanCommandCoverageFlags(t *testing.T) {
	url, spec := demoTarget(t, true)
	alone := []string{"--spec", spec, "--target", url, "--checks", "bola", "--identity", "alice=login:login:username=alice,password=alice-pw"}
	t.Run("untested high check passes without --fail-on-skipped", func(t *testing.T) {
		out, errOut, code := runScanCmd(t, alone...)
		if code != 0 || !strings.Contains(out, "GH2010 ") || !strings.Contains(out, "Coverage") {
			t.Errorf("exit %d (%s), want 0 and a coverage line for GH2010:\n%s", code, errOut, out)
		}
	})
	t.Run("--fail-on-skipped fails it", func(t *testing.T) {
		_, errOut, code := runScanCmd(t, append(alone, "--fail-on-skipped")...)
		if code != 1 || !strings.Contains(errOut, "GH2010") {
			t.Errorf("exit %d (%s), want 1 naming GH2010", code, errOut)
		}
	})
	t.Run("--exclude of an unknown operation", func(t *testing.T) {
		if _, errOut, code := runScanCmd(t, append(alone, "--exclude", "noSuchOperation")...); code != 2 || !strings.Contains(errOut, "noSuchOperation") {
			t.Errorf("exit %d (%s), want 2 naming the operation", code, errOut)
		}
	})
	t.Run("--exclude keeps an operation out of the JSON coverage", func(t *testing.T) {
		out, errOut, code := runScanCmd(t, "--spec", spec, "--target", url, "--checks", "errors", "--format", "json", "--exclude", "searchUsers",
			"--identity", "alice=login:login:username=alice,password=alice-pw")
		if code != 0 {
			t.Fatalf("exit %d (%s)", code, errOut)
		}
		var rep struct {
			Checks []struct {
				Coverage []struct{ Operation, Status, Reason string }
			}
			Guarded []struct{ Operation, Policy string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, oc := range rep.Checks[0].Coverage {
			if oc.Operation == "searchUsers" {
				found = oc.Status == "skipped" && strings.Contains(oc.Reason, "--exclude")
			}
		}
		if !found || len(rep.Guarded) == 0 || rep.Guarded[0].Policy != "excluded" {
			t.Errorf("coverage/guarded = %+v / %+v", rep.Checks[0].Coverage, rep.Guarded)
		}
	})
	t.Run("--wait-for-target negative", func(t *testing.T) {
		if _, _, code := runScanCmd(t, append(alone, "--wait-for-target", "-1s")...); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

// A target that answers only 429: the scan resends each probe after
// Retry-After (twice), then reports the operations as skipped, rate
// limited, never tested; --throttle-wait negative sends each probe once.
func TestScanCommandThrottledTarget(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	spec := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(spec, vulnapi.Spec, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (sent int64, throttled int, statuses map[string]int) {
		hits.Store(0)
		out, errOut, code := runScanCmd(t, append([]string{"--spec", spec, "--target", srv.URL, "--checks", "errors", "--format", "json"}, extra...)...)
		if code != 0 {
			t.Fatalf("exit %d (%s)", code, errOut)
		}
		var rep struct {
			Checks []struct {
				Status   string
				Coverage []struct {
					Status, Reason string
					Throttled      int
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		statuses = map[string]int{}
		for _, oc := range rep.Checks[0].Coverage {
			statuses[oc.Status]++
			throttled += oc.Throttled
			if oc.Status == "tested" {
				t.Errorf("an operation whose every answer was 429 is %q %q", oc.Status, oc.Reason)
			}
		}
		if rep.Checks[0].Status == "tested" {
			t.Errorf("check status tested on a target that answered only 429")
		}
		return hits.Load(), throttled, statuses
	}
	sent, throttled, st := run()
	once, throttledOnce, _ := run("--throttle-wait", "-1s")
	if st["skipped"] == 0 || throttled == 0 {
		t.Errorf("coverage %v, %d throttled probes: want skipped operations, rate limited", st, throttled)
	}
	if throttledOnce != throttled || sent < 2*once {
		t.Errorf("default: %d requests for %d probes; --throttle-wait -1s: %d for %d; want the same probes, each sent 3 times against once", sent, throttled, once, throttledOnce)
	}
}
