package config

import (
	"strings"
	"testing"
)

func TestContractSections(t *testing.T) {
	good := `
request:
  max_body: 64KiB
  max_depth: 16
  reject_unknown_properties: true
  operations:
    putSettings: { reject_unknown_properties: false }
    runDiagnostics: { shell_fields: ["/host", "query:target"] }
response:
  mode: filter
  mask_fields: [password_hash, ssn]
  oversize: pass
  operations:
    login: { unmask: [token] }
    getUser: { mode: validate, status: { "404": off, "5XX": off } }
`
	c, err := parse([]byte(good), "good.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var p Problems
	c.Request.validate(&p, "request")
	c.Response.validate(&p, "response")
	for _, pr := range p.List {
		if !pr.Warning {
			t.Errorf("unexpected problem %s: %s", pr.Path, pr.Msg)
		}
	}
	if c.Request.MaxBody != 64<<10 || c.Request.MaxDepth != 16 || c.Request.MaxArrayLength != 10000 {
		t.Errorf("request = %+v", c.Request)
	}
	if f := c.Request.Operations["putSettings"].RejectUnknownProperties; f == nil || *f {
		t.Errorf("per-operation opt-out lost: %v", f)
	}
	if !c.Response.MaskCardNumbers || c.Response.Oversize != "pass" || len(c.Response.MaskFields) != 2 {
		t.Errorf("response = %+v", c.Response)
	}

	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"bad response mode", "response: { mode: strip }", "response.mode"},
		{"bad oversize", "response: { oversize: buffer }", "response.oversize"},
		{"bad status key", "response: { operations: { x: { status: { \"2X\": off } } } }", "response.operations.x.status.2X"},
		{"bad status mode", "response: { operations: { x: { status: { \"200\": skip } } } }", "response.operations.x.status.200"},
		{"depth zero", "request: { max_depth: 0 }", "request.max_depth"},
		{"bad shell field", "request: { operations: { x: { shell_fields: [host] } } }", "request.operations.x.shell_fields[0]"},
		{"bad request mode", "request: { mode: block }", "request.mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte(tc.yaml), "bad.yaml", func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var p Problems
			c.Request.validate(&p, "request")
			c.Response.validate(&p, "response")
			found := false
			for _, pr := range p.List {
				if !pr.Warning && strings.HasPrefix(pr.Path, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("validate(%s) problems = %+v, want one at %s", tc.yaml, p.List, tc.want)
			}
		})
	}
}
