package config

import (
	"strings"
	"testing"
)

func TestCredentialSection(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	c, err := parse([]byte("request: { operations: { registerUser: { credential: { user_fields: [username] } } } }"), "good.yaml", noEnv)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cr := c.Request.Operations["registerUser"].Credential
	if cr == nil || cr.Field != "password" || cr.MinLength != 12 || cr.MaxLength != 128 || len(cr.UserFields) != 1 {
		t.Fatalf("credential defaults = %+v", cr)
	}
	var p Problems
	c.Request.validate(&p, "request")
	if len(p.List) != 0 {
		t.Errorf("unexpected problems %+v", p.List)
	}
	for _, tc := range []struct {
		name, yaml, want string
		warning          bool
	}{
		{"empty field", `{ field: "" }`, "request.operations.x.credential.field", false},
		{"zero min", `{ min_length: 0 }`, "request.operations.x.credential.min_length", false},
		{"max below min", `{ min_length: 20, max_length: 16 }`, "request.operations.x.credential.max_length", false},
		{"max too large", `{ max_length: 100000 }`, "request.operations.x.credential.max_length", false},
		{"empty user field", `{ user_fields: [""] }`, "request.operations.x.credential.user_fields[0]", false},
		{"weak min", `{ min_length: 6 }`, "request.operations.x.credential.min_length", true},
		{"unknown key", `{ min_len: 6 }`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte("request: { operations: { x: { credential: "+tc.yaml+" } } }"), "bad.yaml", noEnv)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "min_len") {
					t.Fatalf("parse(%s) err = %v, want unknown key", tc.yaml, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var p Problems
			c.Request.validate(&p, "request")
			found := false
			for _, pr := range p.List {
				if pr.Warning == tc.warning && pr.Path == tc.want {
					found = true
				}
			}
			if !found {
				t.Errorf("validate(%s) problems = %+v, want one at %s (warning %v)", tc.yaml, p.List, tc.want, tc.warning)
			}
		})
	}
}
