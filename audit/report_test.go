package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// reportResult audits testdata/report-api.yaml (relative path, so golden
// files do not depend on the checkout directory).
func reportResult(t *testing.T) *audit.Result {
	t.Helper()
	s, err := openapi.Load("testdata/report-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Run(context.Background(), s, audit.Options{Version: "v0.0.0-test", Gateway: &audit.Gateway{
		File: "gatehouse.yaml", Default: "public", ResponseMode: "filter", Bounded: map[string]bool{}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func renderAudit(t *testing.T, format string, r *audit.Result) []byte {
	t.Helper()
	rep, err := report.NewAudit(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.ReportAudit(&buf, r); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestReportGolden(t *testing.T) {
	res := reportResult(t)
	if len(res.Findings) < 10 || res.Ignored != 1 {
		t.Fatalf("sample has %d findings, %d ignored; want a rich sample with one ignored", len(res.Findings), res.Ignored)
	}
	for _, format := range report.AuditFormats {
		t.Run(format, func(t *testing.T) {
			got := renderAudit(t, format, res)
			golden := filepath.Join("testdata", "golden", "report."+format)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s report differs from %s (run with -update and review the diff):\n%s", format, golden, got)
			}
		})
	}
}

func TestReportContent(t *testing.T) {
	res := reportResult(t)
	console := string(renderAudit(t, "console", res))
	for _, want := range []string{"score: ", "/100", "GH1004", "testdata/report-api.yaml:7:5 #/components/securitySchemes/basic", "1 accepted with x-gatehouse-ignore"} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	html := string(renderAudit(t, "html", res))
	if strings.Contains(html, "<img src=x") || strings.Contains(html, "<b>sample</b>") {
		t.Error("HTML report contains unescaped markup from the spec")
	}
	var js struct {
		SchemaVersion int             `json:"schema_version"`
		Score         int             `json:"score"`
		Findings      []audit.Finding `json:"findings"`
	}
	if err := json.Unmarshal(renderAudit(t, "json", res), &js); err != nil {
		t.Fatal(err)
	}
	if js.SchemaVersion != report.AuditSchemaVersion || js.Score != res.Score || len(js.Findings) != len(res.Findings) {
		t.Errorf("JSON: version %d score %d findings %d; want %d %d %d", js.SchemaVersion, js.Score, len(js.Findings), report.AuditSchemaVersion, res.Score, len(res.Findings))
	}
	for _, f := range js.Findings {
		if f.Line == 0 || f.Column == 0 || f.Fingerprint == "" || f.OWASP == "" {
			t.Errorf("JSON finding %s lacks line/column/fingerprint/owasp: %+v", f.RuleID, f)
		}
	}
	if _, err := report.NewAudit("junit"); err == nil {
		t.Error(`NewAudit("junit") = nil error`)
	}
}

func TestSARIFValidatesAgainstOfficialSchema(t *testing.T) {
	f, err := os.Open("../scan/report/testdata/sarif-schema-2.1.0.json")
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
	full := reportResult(t)
	empty := *full
	empty.Findings = nil
	for name, r := range map[string]*audit.Result{"findings": full, "empty": &empty} {
		t.Run(name, func(t *testing.T) {
			out := renderAudit(t, "sarif", r)
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
						Locations []struct {
							PhysicalLocation struct {
								Region struct{ StartLine, StartColumn int }
							}
						}
					}
				}
			}
			if err := json.Unmarshal(out, &log); err != nil {
				t.Fatal(err)
			}
			if len(log.Runs[0].Results) != len(r.Findings) {
				t.Errorf("%d results, want %d", len(log.Runs[0].Results), len(r.Findings))
			}
			for i, res := range log.Runs[0].Results {
				if log.Runs[0].Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
					t.Errorf("result %s has ruleIndex %d pointing at another rule", res.RuleID, res.RuleIndex)
				}
				reg := res.Locations[0].PhysicalLocation.Region
				if f := r.Findings[i]; f.Line > 0 && (reg.StartLine != f.Line || reg.StartColumn != f.Column) {
					t.Errorf("%s region %d:%d, want %d:%d", res.RuleID, reg.StartLine, reg.StartColumn, f.Line, f.Column)
				}
			}
		})
	}
}
