package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/report"
)

func sample() *scan.Result {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bola := scan.Meta{ID: "GH2010", Title: "Broken object level authorization", Category: "bola", Severity: scan.High, OWASP: scan.API1BOLA, CWE: "CWE-639", Remediation: "Check ownership."}
	hdr := scan.Meta{ID: "GH2060", Title: "Security headers missing", Category: "misconfig", Severity: scan.Low, OWASP: scan.API8Misconfig, CWE: "CWE-693", Remediation: "Send headers.", Fix: "headers: { preset: strict }"}
	skip := scan.Meta{ID: "GH2050", Title: "SQL injection (error-based)", Category: "injection", Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-89", Intrusive: true}
	f1 := scan.Finding{ID: "GH2010-0123456789", CheckID: "GH2010", Title: bola.Title, Severity: scan.High, OWASP: bola.OWASP, CWE: bola.CWE,
		Operation: "getUser", Method: "GET", Path: "/users/{user_id}", Param: "user_id", Pointer: "/paths/~1users~1{user_id}/get", Line: 12,
		Detail: `bob read alice's user <script>alert(1)</script>`, Remediation: bola.Remediation,
		Fix:         "authz: { rules: { getUser: { owner: { param: user_id, claim: sub } } } }",
		Curl:        `curl -i -H "Authorization: Bearer $TOKEN_BOB" 'http://127.0.0.1:5000/users/2'`,
		Evidence:    []scan.Evidence{{Note: "bob's request", Request: "GET /users/2\nAuthorization: Bearer <redacted>", Response: `HTTP 200 OK` + "\n\n" + `{"id":2,"username":"<img src=x onerror=alert(1)>"}`}},
		Fingerprint: "0123456789abcdef0123456789abcdef"}
	f2 := scan.Finding{ID: "GH2060-fedcba9876", CheckID: "GH2060", Title: hdr.Title, Severity: scan.Low, OWASP: hdr.OWASP, CWE: hdr.CWE,
		Detail: "lacks nosniff", Remediation: hdr.Remediation, Fix: hdr.Fix, Fingerprint: "fedcba9876543210fedcba9876543210"}
	return &scan.Result{Tool: "gatehouse", Version: "v0.0.0-test", Target: "http://127.0.0.1:5000", Spec: "api.yaml",
		Started: start, Finished: start.Add(1500 * time.Millisecond), Requests: 42, Identities: []string{"alice", "bob"},
		Checks: []scan.CheckRun{
			{Meta: bola, Operations: []string{"getNote", "getUser"}, Requests: 10, Findings: 1, Status: scan.CoverTested,
				Coverage: []scan.OpCoverage{{Operation: "getNote", Status: scan.CoverTested, Requests: 4}, {Operation: "getUser", Status: scan.CoverTested, Requests: 6},
					{Operation: "listNotes", Status: scan.CoverSkipped, Reason: "no second identity owns an object there"}, {Operation: "login", Status: scan.CoverNotApplicable}}},
			{Meta: hdr, Operations: []string{""}, Requests: 1, Findings: 1, Status: scan.CoverTested,
				Coverage: []scan.OpCoverage{{Operation: "", Status: scan.CoverTested, Requests: 1}}},
			{Meta: skip, Skipped: "intrusive check skipped in safe mode", Status: "skipped", Reason: "intrusive check skipped in safe mode",
				Coverage: []scan.OpCoverage{{Operation: "getUser", Status: scan.CoverSkipped, Reason: "intrusive check skipped in safe mode"}}},
		},
		Guarded:  []scan.GuardedOp{{Operation: "resetDatabase", Policy: "destructive", Reason: `"reset" in its operationId`, Calls: 0}},
		Findings: []scan.Finding{f1, f2}, Suppressed: 1}
}

func render(t *testing.T, format string, r *scan.Result) []byte {
	t.Helper()
	rep, err := report.New(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.Report(&buf, r); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestNewUnknownFormat(t *testing.T) {
	if _, err := report.New("pdf"); err == nil {
		t.Error(`New("pdf") = nil error, want one`)
	}
}

func TestConsole(t *testing.T) {
	out := string(render(t, "console", sample()))
	for _, want := range []string{"HIGH     GH2010", "GET /users/{user_id} (getUser) [user_id]", "gatehouse fix: authz:", "API1:2023 Broken Object Level Authorization", "total", "2 findings, 1 suppressed", "skipped in safe mode: GH2050",
		"GH2010 Broken object level authorization: 2 operations tested, 1 skipped: no second identity owns an object there",
		"GH2060 Security headers missing: target-wide (1 request)",
		"GH2050 SQL injection (error-based): skipped: intrusive check skipped in safe mode",
		`guarded: resetDatabase is destructive ("reset" in its operationId), called 0 time(s)`} {
		if !strings.Contains(out, want) {
			t.Errorf("console report lacks %q:\n%s", want, out)
		}
	}
}

func TestJSON(t *testing.T) {
	var got struct {
		SchemaVersion int            `json:"schema_version"`
		Findings      []scan.Finding `json:"findings"`
		Checks        []scan.CheckRun
		Requests      int
	}
	if err := json.Unmarshal(render(t, "json", sample()), &got); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != report.SchemaVersion || len(got.Findings) != 2 || got.Requests != 42 || got.Findings[0].Severity != scan.High || got.Findings[0].Fix == "" {
		t.Errorf("JSON round trip = %+v", got)
	}
	if c := got.Checks; len(c) != 3 || c[0].Status != scan.CoverTested || len(c[0].Coverage) != 4 ||
		c[0].Coverage[2].Status != scan.CoverSkipped || c[0].Coverage[2].Reason == "" || c[2].Status != "skipped" {
		t.Errorf("JSON coverage = %+v", c)
	}
	empty := sample()
	empty.Findings = nil
	if !bytes.Contains(render(t, "json", empty), []byte(`"findings": []`)) {
		t.Error("no findings must encode as [], not null")
	}
}

func TestSARIFValidatesAgainstOfficialSchema(t *testing.T) {
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"level":"fatal"}]}]}`))
	if sch.Validate(bad) == nil {
		t.Fatal("schema accepted an invalid SARIF log: the validation proves nothing")
	}
	for name, r := range map[string]*scan.Result{"findings": sample(), "empty": {Target: "http://x", Checks: sample().Checks}} {
		t.Run(name, func(t *testing.T) {
			out := render(t, "sarif", r)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("SARIF output does not validate: %v\n%s", err, out)
			}
			var log struct {
				Runs []struct {
					Tool struct {
						Driver struct{ Rules []struct{ ID string } }
					}
					Results []struct {
						RuleID    string
						RuleIndex int
						Level     string
					}
				}
			}
			if err := json.Unmarshal(out, &log); err != nil {
				t.Fatal(err)
			}
			for _, res := range log.Runs[0].Results {
				if log.Runs[0].Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
					t.Errorf("result %s points at rule %d", res.RuleID, res.RuleIndex)
				}
			}
			if name == "findings" && (len(log.Runs[0].Results) != 2 || log.Runs[0].Results[0].Level != "error") {
				t.Errorf("results = %+v", log.Runs[0].Results)
			}
			// Coverage travels as one toolExecutionNotification per check.
			var cov struct {
				Runs []struct {
					Invocations []struct {
						ExecutionSuccessful        bool
						ToolExecutionNotifications []struct {
							Level          string
							Message        struct{ Text string }
							AssociatedRule struct{ ID string }
							Properties     struct {
								Status   string
								Coverage []scan.OpCoverage
							}
						}
					}
				}
			}
			if err := json.Unmarshal(out, &cov); err != nil {
				t.Fatal(err)
			}
			inv := cov.Runs[0].Invocations
			if name == "empty" {
				return
			}
			if len(inv) != 1 || !inv[0].ExecutionSuccessful || len(inv[0].ToolExecutionNotifications) != 3 {
				t.Fatalf("invocations = %+v", inv)
			}
			n := inv[0].ToolExecutionNotifications
			if n[0].AssociatedRule.ID != "GH2010" || n[0].Level != "note" || len(n[0].Properties.Coverage) != 4 ||
				!strings.Contains(n[0].Message.Text, "1 skipped: no second identity owns an object there") ||
				n[2].AssociatedRule.ID != "GH2050" || n[2].Level != "warning" || n[2].Properties.Status != "skipped" {
				t.Errorf("notifications = %+v", n)
			}
		})
	}
}

func TestJUnit(t *testing.T) {
	out := render(t, "junit", sample())
	var got struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// GH2010 × {getNote, getUser}, GH2060 × (target), GH2050 skipped.
	if got.Tests != 4 || got.Failures != 2 || got.Skipped != 1 {
		t.Errorf("tests=%d failures=%d skipped=%d, want 4 2 1\n%s", got.Tests, got.Failures, got.Skipped, out)
	}
	if c := got.Suites[0].Cases; c[0].Name != "getNote" || len(c[0].Failures) != 0 || c[1].Name != "getUser" || len(c[1].Failures) != 1 {
		t.Errorf("GH2010 cases = %+v", c)
	}
}

func TestHTMLSelfContainedAndEscaped(t *testing.T) {
	out := string(render(t, "html", sample()))
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import", "url(", "<img src=x"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML report contains %q (external asset or unescaped markup)", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("finding detail is not HTML-escaped")
	}
}

func TestHTMLRendersInChromium(t *testing.T) {
	bin := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not installed in CI")
		}
		t.Skip("chromium not installed: the HTML report is not rendered in a browser (apt-get install chromium; .ci/run installs it)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, render(t, "html", sample()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+file)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, want := range []string{`id="GH2010-0123456789"`, `id="GH2060-fedcba9876"`, "Broken object level authorization", "authz: { rules: { getUser", `id="summary"`,
		`id="coverage"`, "GH2010 Broken object level authorization: 2 operations tested, 1 skipped: no second identity owns an object there",
		`<li class="cov-skipped">GH2050 SQL injection (error-based): skipped: intrusive check skipped in safe mode</li>`,
		`id="coverage-GH2010"`, "<td>listNotes</td><td>skipped</td><td>no second identity owns an object there</td>"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if bytes.Contains(dom, []byte("<img src=\"x\"")) {
		t.Error("evidence markup was rendered as HTML")
	}
}
