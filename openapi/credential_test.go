package openapi_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
)

// One parser for x-gatehouse-credential, shared by the gateway and the
// scanner: every form means one thing, and a malformed mark is an error
// naming its pointer, never a silently disabled password check (the
// gateway used to read `true` as a field named "true").
func TestCredentialExtension(t *testing.T) {
	for _, tc := range []struct {
		mark   string
		marked bool
		want   openapi.Credential
		err    string
	}{
		{"", false, openapi.Credential{}, ""},
		{"x-gatehouse-credential: true", true, openapi.Credential{Field: "password"}, ""},
		{"x-gatehouse-credential: false", false, openapi.Credential{Field: "password"}, ""},
		{"x-gatehouse-credential: null", false, openapi.Credential{}, ""},
		{"x-gatehouse-credential: newPassword", true, openapi.Credential{Field: "newPassword", Named: true}, ""},
		{`x-gatehouse-credential: "true"`, true, openapi.Credential{Field: "true", Named: true}, ""},
		{"x-gatehouse-credential: {field: pw, user_fields: [username, email], min_length: 10, max_length: 64}", true,
			openapi.Credential{Field: "pw", UserFields: []string{"username", "email"}, MinLength: 10, MaxLength: 64, Named: true}, ""},
		{"x-gatehouse-credential: {min_length: 12}", true, openapi.Credential{Field: "password", MinLength: 12}, ""},
		{"x-gatehouse-credential: 7", false, openapi.Credential{}, "/paths/~1users~1{name}~1password/put/x-gatehouse-credential: !!int"},
		{"x-gatehouse-credential: [password]", false, openapi.Credential{}, "want true, a field name"},
		{`x-gatehouse-credential: ""`, false, openapi.Credential{}, "empty field name"},
		{"x-gatehouse-credential: {feild: pw}", false, openapi.Credential{}, `unknown key "feild"`},
		{"x-gatehouse-credential: {min_length: 20, max_length: 10}", false, openapi.Credential{}, "out of range"},
		{"x-gatehouse-credential: {max_length: 5000}", false, openapi.Credential{}, "out of range"},
		{"x-gatehouse-credential: {min_length: -1}", false, openapi.Credential{}, "out of range"},
		{"x-gatehouse-credential: {user_fields: username}", false, openapi.Credential{}, "want {field"},
	} {
		t.Run(tc.mark, func(t *testing.T) {
			spec := `openapi: 3.1.0
info: { title: t, version: "1" }
paths:
  /users/{name}/password:
    put:
      operationId: setPassword
      ` + tc.mark + `
      parameters: [{ name: name, in: path, required: true, schema: { type: string } }]
      responses: { "204": { description: ok } }
`
			s, err := openapi.LoadBytes([]byte(spec), "t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			op := s.Operations[0]
			c, marked, err := op.Credential()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if marked != tc.marked || c.Field != tc.want.Field || c.Named != tc.want.Named || c.MinLength != tc.want.MinLength ||
				c.MaxLength != tc.want.MaxLength || strings.Join(c.UserFields, ",") != strings.Join(tc.want.UserFields, ",") {
				t.Errorf("got %+v marked=%v, want %+v marked=%v", c, marked, tc.want, tc.marked)
			}
		})
	}
}
