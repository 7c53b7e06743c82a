package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRouteEdits(t *testing.T) {
	good := `
spec_overlays: [bound.yaml, more/x.yaml]
routes:
  deleteUser: { deny: true }
  getUser: { mask: [message, internal_id] }
  createNote:
    constraints:
      /title: { max_length: 64, min_length: 1, pattern: "^[^<>]*$" }
      /tags/0: { enum: [a, b] }
      query:limit: { minimum: 1, maximum: 100 }
      header:X-Trace: { format: uuid }
      /items: { max_items: 10 }
`
	c, err := parse([]byte(good), filepath.Join("dir", "good.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var p Problems
	c.validate(&p)
	for _, pr := range p.List {
		if strings.HasPrefix(pr.Path, "routes") && !pr.Warning {
			t.Errorf("unexpected problem %s: %s", pr.Path, pr.Msg)
		}
	}
	if got := c.Routes["createNote"].Constraints["/title"]; got.MaxLength == nil || *got.MaxLength != 64 || got.Pattern != "^[^<>]*$" {
		t.Errorf("/title constraint = %+v", got)
	}
	if got := c.Routes["createNote"].Constraints["query:limit"]; got.Maximum == nil || *got.Maximum != 100 {
		t.Errorf("query:limit constraint = %+v", got)
	}
	if !c.Routes["deleteUser"].Deny || len(c.Routes["getUser"].Mask) != 2 {
		t.Errorf("routes = %+v", c.Routes)
	}

	for _, tc := range []struct {
		name, yaml, want string
		warning          bool
	}{
		{"empty constraint", "routes: { x: { constraints: { /a: {} } } }", "routes.x.constraints./a", false},
		{"bad field", "routes: { x: { constraints: { body.a: { max_length: 1 } } } }", "routes.x.constraints.body.a", false},
		{"bad location", "routes: { x: { constraints: { form:a: { max_length: 1 } } } }", "routes.x.constraints.form:a", false},
		{"root pointer", "routes: { x: { constraints: { /: { max_length: 1 } } } }", "routes.x.constraints./", false},
		{"negative", "routes: { x: { constraints: { /a: { max_length: -1 } } } }", "routes.x.constraints./a.max_length", false},
		{"min over max", "routes: { x: { constraints: { /a: { min_length: 5, max_length: 1 } } } }", "routes.x.constraints./a.min_length", false},
		{"minimum over maximum", "routes: { x: { constraints: { /a: { minimum: 5, maximum: 1 } } } }", "routes.x.constraints./a.minimum", false},
		{"bad pattern", "routes: { x: { constraints: { /a: { pattern: \"(\" } } } }", "routes.x.constraints./a.pattern", false},
		{"empty mask", "routes: { x: { mask: [\"\"] } }", "routes.x.mask[0]", false},
		{"deny with more", "routes: { x: { deny: true, mask: [a] } }", "routes.x.deny", true},
		{"missing overlay", "spec_overlays: [nowhere.yaml]", "spec_overlays[0]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte(tc.yaml), "bad.yaml", func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var p Problems
			c.validate(&p)
			for _, pr := range p.List {
				if pr.Path == tc.want && pr.Warning == tc.warning {
					return
				}
			}
			t.Errorf("no problem (warning=%v) at %s in %+v", tc.warning, tc.want, p.List)
		})
	}
}
