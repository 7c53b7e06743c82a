package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const authzBase = "upstream: http://127.0.0.1:5000\nspec: api.yaml\n"

// specDir returns a temp dir holding an api.yaml, for the required spec key.
func specDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "api.yaml"), []byte("openapi: 3.1.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthzGood(t *testing.T) {
	c, err := parse([]byte(authzBase+`
authz:
  default: deny
  mode: monitor
  cel_timeout: 5ms
  rules:
    getUser:
      roles: [admin, support]
      scopes: ["users:read"]
      allow: "request.path.user_id == 1"
      owner: { param: user_id, claim: sub, unless_role: admin, unless_roles: [root] }
    getHealth: { public: true }
    "tag:admin": { roles: [admin] }
    "path:/admin/**": { roles_all: [admin, staff] }
    "GET /me": { authenticated: true }
`), specDir(t)+"/authz.good.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a := c.Authz
	if a.Default != "deny" || a.Mode != "monitor" || a.CELTimeout.D().Milliseconds() != 5 || a.CELCostLimit != AuthzDefaultCELCostLimit {
		t.Fatalf("Authz = %+v", a)
	}
	if len(a.Rules) != 5 || a.Rules["getUser"].Owner.Param != "user_id" || !a.Rules["getHealth"].Public {
		t.Fatalf("rules = %+v", a.Rules)
	}
	if got := a.Rules["getUser"].Owner.UnlessRolesAll(); len(got) != 2 {
		t.Fatalf("UnlessRolesAll = %v", got)
	}
}

func TestAuthzOwnerResponseGood(t *testing.T) {
	c, err := parse([]byte(authzBase+`
authz:
  rules:
    getNote: { owner_response: { field: /owner_id, claim: sub, unless_role: admin, unless_roles: [support], deny_status: 403 } }
    listNotes: { owner_response: { field: "/meta/owner~1id", claim: uid, filter: true } }
    getDoc: { owner_response: { claim: sub } }
`), specDir(t)+"/authz.or.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	o := c.Authz.Rules["getNote"].OwnerResponse
	if o.Field != "/owner_id" || o.DenyStatus != 403 || len(o.UnlessRolesAll()) != 2 || o.Filter {
		t.Fatalf("getNote owner_response = %+v", o)
	}
	if l := c.Authz.Rules["listNotes"].OwnerResponse; !l.Filter || l.Claim != "uid" {
		t.Fatalf("listNotes owner_response = %+v", l)
	}
}

func TestAuthzDefaults(t *testing.T) {
	c := Default()
	if c.Authz.Default != "authenticated" {
		t.Fatalf("default stance = %q, want authenticated", c.Authz.Default)
	}
}

func TestAuthzBad(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown default", "authz: { default: open }", []string{"authz.default"}},
		{"unknown key", "authz: { rules: { getUser: { rolez: [a] } } }", []string{"authz.rules.getUser.rolez"}},
		{"public on tag", `authz: { rules: { "tag:admin": { public: true } } }`, []string{"authz.rules.tag:admin.public", "only allowed on an operation"}},
		{"public plus roles", `authz: { rules: { getUser: { public: true, roles: [a] } } }`, []string{"authz.rules.getUser.public", "cannot be combined"}},
		{"empty rule", `authz: { rules: { getUser: {} } }`, []string{"authz.rules.getUser", "no condition"}},
		{"owner without claim", `authz: { rules: { getUser: { owner: { param: id } } } }`, []string{"authz.rules.getUser.owner.claim"}},
		{"blank role", `authz: { rules: { getUser: { roles: [" "] } } }`, []string{"authz.rules.getUser.roles[0]"}},
		{"bad mode", `authz: { mode: audit }`, []string{"authz.mode"}},
		{"zero cost", `authz: { cel_cost_limit: 0 }`, []string{"authz.cel_cost_limit"}},
		{"owner_response field not a pointer", `authz: { rules: { getNote: { owner_response: { field: owner_id, claim: sub } } } }`, []string{"authz.rules.getNote.owner_response.field", "JSON pointer"}},
		{"owner_response bad escape", `authz: { rules: { getNote: { owner_response: { field: "/a~2", claim: sub } } } }`, []string{"authz.rules.getNote.owner_response.field"}},
		{"owner_response without claim", `authz: { rules: { getNote: { owner_response: { field: /owner_id } } } }`, []string{"authz.rules.getNote.owner_response.claim"}},
		{"owner_response deny 200", `authz: { rules: { getNote: { owner_response: { field: /owner_id, claim: sub, deny_status: 200 } } } }`, []string{"authz.rules.getNote.owner_response.deny_status"}},
		{"owner_response on a group", `authz: { rules: { "tag:notes": { owner_response: { field: /owner_id, claim: sub } } } }`, []string{"authz.rules.tag:notes.owner_response", "operation key"}},
		{"owner_response unknown key", `authz: { rules: { getNote: { owner_response: { field: /owner_id, claim: sub, filtr: true } } } }`, []string{"authz.rules.getNote.owner_response.filtr"}},
		{"owner_response public", `authz: { rules: { getNote: { public: true, owner_response: { field: /owner_id, claim: sub } } } }`, []string{"cannot be combined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse([]byte(authzBase+tc.yaml), specDir(t)+"/authz.bad.yaml", func(string) (string, bool) { return "", false })
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
