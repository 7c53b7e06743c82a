package oasvalidate

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/openapi"
)

func loadSpec(t testing.TB, file string) *openapi.Spec {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openapi.LoadBytes(b, file)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	return s
}

// FromSpec converts the gateway's operation index.
func fromSpec(s *openapi.Spec) []Operation {
	ops := make([]Operation, 0, len(s.Operations))
	for _, o := range s.Operations {
		ops = append(ops, Operation{ID: o.ID, Method: o.Method, Template: o.Template, PathItem: openapi.PathItem(o), Op: openapi.Op(o), Params: openapi.Params(o)})
	}
	return ops
}

func newValidator(t testing.TB, file string, opts Options) *Validator {
	t.Helper()
	s := loadSpec(t, file)
	v, err := New(openapi.Model(s), fromSpec(s), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

type reqCase struct {
	name    string
	op      string
	method  string
	target  string
	params  map[string]string
	ct      string
	body    string
	headers map[string]string
	// want is "" for a request that must pass, else the Error.Label.
	want  string
	field string
}

func request(tc reqCase) *http.Request {
	var r *http.Request
	if tc.body != "" {
		r = httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
	} else {
		r = httptest.NewRequest(tc.method, tc.target, nil)
	}
	if tc.ct != "" {
		r.Header.Set("Content-Type", tc.ct)
	}
	for k, v := range tc.headers {
		r.Header.Add(k, v)
	}
	rt := &gatehouse.Route{OperationID: tc.op, Method: tc.method, Params: tc.params}
	return r.WithContext(gatehouse.WithRoute(r.Context(), rt))
}

func runCases(t *testing.T, v *Validator, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Check(request(tc))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tc.name, err)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("Check(%s) = %v, want %s", tc.name, err, tc.want)
			}
			if ve.Label() != tc.want {
				t.Fatalf("Check(%s) = %v, want kind %s", tc.name, err, tc.want)
			}
			if tc.field != "" && ve.Field != tc.field {
				t.Errorf("Check(%s) field = %q, want %q", tc.name, ve.Field, tc.field)
			}
		})
	}
}

const jsonCT = "application/json"

func TestOpenAPI30Requests(t *testing.T) {
	v := newValidator(t, "testdata/users30.yaml", Options{
		RejectUnknown: true, RejectUnknownOps: map[string]bool{"putSettings": false},
		Injection: inspect.Default, MaxBody: 4096, Limits: jsonx.Limits{MaxDepth: 8},
	})
	deep := strings.Repeat(`{"next":`, 10) + `{}` + strings.Repeat(`}`, 10)
	cases := []reqCase{
		// Happy paths.
		{name: "create ok", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"Ann O'Neil","email":"ann@example.com","age":null,"tags":["a"],"address":{"street":"1 Main St","city":"Boston"}}`},
		{name: "charset utf-8 ok", op: "createUser", method: "POST", target: "/users", ct: "application/json; charset=UTF-8",
			body: `{"name":"a","email":"a@example.com"}`},
		{name: "upper case media type ok", op: "createUser", method: "POST", target: "/users", ct: "Application/JSON",
			body: `{"name":"a","email":"a@example.com"}`},
		{name: "negative zero age ok", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","age":-0}`},
		{name: "free-form object is open", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","extra":{"anything":1}}`},
		{name: "list ok", op: "listUsers", method: "GET", target: "/users?limit=10&sort=name&ids=1,2,3&q=O%27Brien",
			headers: map[string]string{"X-Request-Tag": "abc", "Cookie": "session=deadbeef"}},
		{name: "get ok", op: "getUser", method: "GET", target: "/users/7", params: map[string]string{"user_id": "7"}},
		{name: "no body ok", op: "ping", method: "POST", target: "/ping"},
		{name: "opted-out operation accepts unknown", op: "putSettings", method: "PUT", target: "/settings", ct: jsonCT,
			body: `{"theme":"dark","beta":true}`},

		// Schema.
		{name: "missing required", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a"}`, want: "schema", field: "/email"},
		{name: "bad format", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"not-an-email"}`, want: "schema", field: "/email"},
		{name: "wrong type", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":5,"email":"a@example.com"}`, want: "schema", field: "/name"},
		{name: "minimum", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","age":-1}`, want: "schema", field: "/age"},
		{name: "3.0 exclusiveMinimum boolean", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","score":0}`, want: "schema", field: "/score"},
		{name: "negative zero is not above exclusive minimum 0", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","score":-0}`, want: "schema", field: "/score"},
		{name: "maxItems", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","tags":["1","2","3","4","5","6"]}`, want: "schema", field: "/tags"},
		{name: "additionalProperties false", op: "updateUser", method: "PATCH", target: "/users/1", params: map[string]string{"user_id": "1"},
			ct: jsonCT, body: `{"name":"x","role":"admin"}`, want: "unknown_property", field: "/role"},

		// Mass assignment with reject_unknown_properties.
		{name: "mass assignment role", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","role":"admin"}`, want: "unknown_property", field: "/role"},
		{name: "mass assignment nested", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","address":{"city":"x","is_admin":true}}`, want: "unknown_property", field: "/address/is_admin"},
		{name: "mass assignment in recursive ref", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","address":{"next":{"next":{"owner":1}}}}`, want: "unknown_property", field: "/address/next/next/owner"},

		// Attacker: duplicate keys and encodings.
		{name: "duplicate key", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","name":"b"}`, want: "body_syntax", field: "/name"},
		{name: "unicode escaped duplicate", op: "updateUser", method: "PATCH", target: "/users/1", params: map[string]string{"user_id": "1"},
			ct: jsonCT, body: `{"name":"a","\u006eame":"b"}`, want: "body_syntax", field: "/name"},
		{name: "unicode escaped role is still unknown", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","\u0072ole":"admin"}`, want: "unknown_property", field: "/role"},
		{name: "bom", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: "\xef\xbb\xbf{\"name\":\"a\",\"email\":\"a@example.com\"}", want: "body_syntax"},
		{name: "invalid utf8", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: "{\"name\":\"\xff\xfe\",\"email\":\"a@example.com\"}", want: "body_syntax", field: "/name"},
		{name: "deep nesting", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","address":` + deep + `}`, want: "body_syntax"},
		{name: "oversize", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","bio":"` + strings.Repeat("x", 5000) + `"}`, want: "body_size"},
		{name: "1e309", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","age":1e309}`, want: "body_syntax", field: "/age"},
		{name: "huge integer", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","age":100000000000000000000000001}`, want: "body_syntax", field: "/age"},
		{name: "trailing document", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com"}{"role":"admin"}`, want: "body_syntax"},

		// Attacker: content-type confusion.
		{name: "text/plain", op: "createUser", method: "POST", target: "/users", ct: "text/plain",
			body: `{"name":"a","email":"a@example.com"}`, want: "content_type"},
		{name: "form", op: "createUser", method: "POST", target: "/users", ct: "application/x-www-form-urlencoded",
			body: `name=a&email=a@example.com&role=admin`, want: "content_type"},
		{name: "multipart", op: "createUser", method: "POST", target: "/users", ct: "multipart/form-data; boundary=x",
			body: "--x\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin\r\n--x--\r\n", want: "content_type"},
		{name: "utf-16 charset", op: "createUser", method: "POST", target: "/users", ct: "application/json; charset=utf-16",
			body: `{"name":"a","email":"a@example.com"}`, want: "content_type"},
		{name: "missing content type", op: "createUser", method: "POST", target: "/users",
			body: `{"name":"a","email":"a@example.com"}`, want: "content_type"},
		{name: "two content types", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			headers: map[string]string{"Content-Type": "text/plain"}, body: `{"name":"a","email":"a@example.com"}`, want: "content_type"},
		{name: "json suffix not declared", op: "createUser", method: "POST", target: "/users", ct: "application/merge-patch+json",
			body: `{"name":"a","email":"a@example.com"}`, want: "content_type"},
		{name: "empty required body", op: "createUser", method: "POST", target: "/users", ct: jsonCT, want: "body_missing"},
		{name: "body on bodiless operation", op: "ping", method: "POST", target: "/ping", ct: jsonCT, body: `{"a":1}`, want: "body_unexpected"},

		// Parameters.
		{name: "query below minimum", op: "listUsers", method: "GET", target: "/users?limit=0", want: "parameter", field: "limit"},
		{name: "query not integer", op: "listUsers", method: "GET", target: "/users?limit=ten", want: "parameter", field: "limit"},
		{name: "query enum", op: "listUsers", method: "GET", target: "/users?sort=password", want: "parameter", field: "sort"},
		{name: "query array item", op: "listUsers", method: "GET", target: "/users?ids=1,x", want: "parameter", field: "ids"},
		{name: "header pattern", op: "listUsers", method: "GET", target: "/users", headers: map[string]string{"X-Request-Tag": "ABC"}, want: "parameter", field: "X-Request-Tag"},
		{name: "cookie pattern", op: "listUsers", method: "GET", target: "/users", headers: map[string]string{"Cookie": "session=zz"}, want: "parameter", field: "session"},
		{name: "path not integer", op: "getUser", method: "GET", target: "/users/abc", params: map[string]string{"user_id": "abc"}, want: "parameter", field: "user_id"},
		{name: "path below minimum", op: "getUser", method: "GET", target: "/users/0", params: map[string]string{"user_id": "0"}, want: "parameter", field: "user_id"},
		{name: "path hex float", op: "getUser", method: "GET", target: "/users/0x10", params: map[string]string{"user_id": "0x10"}, want: "parameter", field: "user_id"},
		{name: "unknown operation fails closed", op: "nope", method: "GET", target: "/x", want: "route"},

		// Injection on free-form strings.
		{name: "sqli in query", op: "listUsers", method: "GET", target: "/users?q=1%27%20OR%20%271%27%3D%271", want: "injection_sqli", field: "q"},
		{name: "sqli in undeclared query", op: "listUsers", method: "GET", target: "/users?x=1%20UNION%20SELECT%20password%20FROM%20users--", want: "injection_sqli", field: "x"},
		{name: "nosql query syntax", op: "listUsers", method: "GET", target: "/users?name%5B%24ne%5D=x", want: "injection_nosql", field: "name[$ne]"},
		{name: "xss in body", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","bio":"<script>alert(1)</script>"}`, want: "injection_xss", field: "/bio"},
		{name: "escaped xss in body is unescaped first", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","bio":"\u003cimg src=x onerror=alert(1)\u003e"}`, want: "injection_xss", field: "/bio"},
		{name: "sqli in array", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","tags":["ok","1' or '1'='1"]}`, want: "injection_sqli", field: "/tags/1"},
		{name: "nosql operator key", op: "putSettings", method: "PUT", target: "/settings", ct: jsonCT,
			body: `{"theme":"dark","owner":{"$ne":null}}`, want: "injection_nosql", field: "/owner/$ne"},
		{name: "shell metachar in marked field", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com; cat /etc/passwd"}`, want: "injection_shell", field: "/host"},
		{name: "shell metachar in unmarked field ok", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","note":"fish & chips; peas"}`},
		{name: "traversal in marked field", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"../../../../etc/passwd"}`, want: "injection_traversal", field: "/template"},
		{name: "absolute path in marked field", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"/etc/passwd"}`, want: "injection_traversal", field: "/template"},
		{name: "encoded absolute path in marked field", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"%2Fetc%2Fpasswd"}`, want: "injection_traversal", field: "/template"},
		{name: "windows drive in marked field", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"C:\\Windows\\win.ini"}`, want: "injection_traversal", field: "/template"},
		{name: "escaped traversal in marked field is unescaped first", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"\u002e\u002e/secret"}`, want: "injection_traversal", field: "/template"},
		{name: "relative name in marked field ok", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","template":"reports/monthly.txt"}`},
		{name: "path-like prose in unmarked field ok", op: "runDiagnostics", method: "POST", target: "/run", ct: jsonCT,
			body: `{"host":"example.com","note":"see /etc/hosts and ../README"}`},
		{name: "prose with apostrophes ok", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"D'Arcy O'Connor","email":"d@example.com","bio":"It's the user's own choice, isn't it? We'll see."}`},
	}
	runCases(t, v, cases)
}

func TestOpenAPI31Requests(t *testing.T) {
	v := newValidator(t, "testdata/items31.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	cases := []reqCase{
		{name: "ok", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"id":1,"kind":"item","name":"x","point":[1.5,2],"tags":["a","b"]}`},
		{name: "type null union accepts null", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","name":null}`},
		{name: "type null union rejects number", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","name":5}`, want: "schema", field: "/name"},
		{name: "const", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"other"}`, want: "schema", field: "/kind"},
		{name: "prefixItems type", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","point":[1,"x"]}`, want: "schema", field: "/point/1"},
		{name: "prefixItems items false", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","point":[1,2,3]}`, want: "schema", field: "/point/2"},
		{name: "$defs", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","tags":["waytoolongtag"]}`, want: "schema", field: "/tags/0"},
		{name: "unevaluatedProperties sees allOf", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","id":3}`},
		{name: "unevaluatedProperties rejects", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","owner":"me"}`, want: "unknown_property", field: "/owner"},
		{name: "anyOf with one free branch is still inspected", op: "createItem", method: "POST", target: "/items", ct: jsonCT,
			body: `{"kind":"item","contact":"x' OR '1'='1"}`, want: "injection_sqli", field: "/contact"},
		{name: "path pattern ok", op: "getItem", method: "GET", target: "/items/abc-1", params: map[string]string{"item_id": "abc-1"}},
		{name: "path pattern", op: "getItem", method: "GET", target: "/items/ABC", params: map[string]string{"item_id": "ABC"}, want: "parameter", field: "item_id"},
		{name: "pattern-constrained path skips injection check", op: "getItem", method: "GET", target: "/items/1-or-1", params: map[string]string{"item_id": "1-or-1"}},
	}
	runCases(t, v, cases)
}

func TestRejectUnknownOff(t *testing.T) {
	v := newValidator(t, "testdata/users30.yaml", Options{RejectUnknownOps: map[string]bool{"putSettings": true}})
	runCases(t, v, []reqCase{
		{name: "spec leaves object open", op: "createUser", method: "POST", target: "/users", ct: jsonCT,
			body: `{"name":"a","email":"a@example.com","role":"admin"}`},
		{name: "additionalProperties false still enforced", op: "updateUser", method: "PATCH", target: "/users/1", params: map[string]string{"user_id": "1"},
			ct: jsonCT, body: `{"role":"admin"}`, want: "unknown_property", field: "/role"},
		{name: "operation opts in", op: "putSettings", method: "PUT", target: "/settings", ct: jsonCT,
			body: `{"theme":"dark","beta":true}`, want: "unknown_property", field: "/beta"},
		{name: "no injection checks", op: "listUsers", method: "GET", target: "/users?q=1%27%20OR%20%271%27%3D%271"},
	})
}
