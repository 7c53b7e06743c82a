package audit_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// cleanGateway is a gateway config that covers testdata/clean.yaml.
func cleanGateway() *audit.Gateway {
	return &audit.Gateway{File: "gatehouse.yaml", Default: "authenticated", ResponseMode: "filter", Bounded: map[string]bool{},
		LoginOperations: []string{"login"},
		Rules: []audit.GatewayRule{
			{Key: "login", Public: true},
			{Key: "getUser", OwnerParam: "user_id"},
			{Key: "tag:admin", Roles: []string{"admin"}},
		}}
}

type doc = map[string]any

// at walks a JSON pointer in a decoded YAML document, creating maps.
func at(d doc, ptr string) (parent map[string]any, key string) {
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	m := d
	for _, t := range toks[:len(toks)-1] {
		t = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
		next, ok := m[t].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[t] = next
		}
		m = next
	}
	return m, strings.NewReplacer("~1", "/", "~0", "~").Replace(toks[len(toks)-1])
}

func set(d doc, ptr string, v any) { m, k := at(d, ptr); m[k] = v }
func del(d doc, ptr string)        { m, k := at(d, ptr); delete(m, k) }

// y parses a YAML value.
func y(s string) any {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func cleanDoc(t *testing.T, version string) doc {
	t.Helper()
	b, err := os.ReadFile("testdata/clean.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d["openapi"] = version
	return d
}

func audit1(t *testing.T, d doc, gw *audit.Gateway) *audit.Result {
	t.Helper()
	b, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openapi.LoadBytes(b, "api.yaml")
	if err != nil {
		t.Fatalf("load: %v\n%s", err, b)
	}
	res, err := audit.Run(context.Background(), s, audit.Options{Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var versions = []string{"3.0.3", "3.1.0"}

func TestCleanSpecHasNoFindings(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			res := audit1(t, cleanDoc(t, v), cleanGateway())
			for _, f := range res.Findings {
				t.Errorf("clean spec: %s at %s: %s", f.RuleID, f.Pointer, f.Detail)
			}
			if res.Score != 100 {
				t.Errorf("score = %d, want 100", res.Score)
			}
			if res.Ignored != 1 { // login's security: [] accepted with x-gatehouse-ignore
				t.Errorf("ignored = %d, want 1", res.Ignored)
			}
			if len(res.Rules) != len(audit.Rules()) {
				t.Errorf("%d rules ran, want all %d (coverage included with a gateway)", len(res.Rules), len(audit.Rules()))
			}
		})
	}
}

// ruleCases: each mutation of the clean spec (or of its gateway) must
// trigger the rule at the given pointer; the clean spec is the
// non-triggering twin (TestCleanSpecHasNoFindings), and each case also
// checks that the clean spec does not have the rule.
var ruleCases = []struct {
	rule, name string
	spec       func(d doc)
	gw         func(g *audit.Gateway) *audit.Gateway
	ptr        string // expected pointer ("" = don't check)
	only       string // run for this version only
}{
	{rule: "GH1001", spec: func(d doc) {
		del(d, "/components/securitySchemes")
		del(d, "/security")
		del(d, "/paths/~1admin~1stats/get/security")
	}, ptr: "/components"},
	{rule: "GH1002", spec: func(d doc) { del(d, "/security") }, ptr: "/paths/~1users~1{user_id}/get"},
	{rule: "GH1003", spec: func(d doc) { set(d, "/paths/~1users~1{user_id}/get/security", []any{}) }, ptr: "/paths/~1users~1{user_id}/get/security"},
	{rule: "GH1003", name: "optional", spec: func(d doc) { set(d, "/security", y("[{}, {oauth: [read]}]")) }, ptr: "/paths/~1users/post"},
	{rule: "GH1004", spec: func(d doc) {
		set(d, "/components/securitySchemes/basic", y("{type: http, scheme: basic}"))
	}, ptr: "/components/securitySchemes/basic"},
	{rule: "GH1005", name: "query param", spec: func(d doc) {
		set(d, "/paths/~1users~1{user_id}/get/parameters", y("[{name: user_id, in: path, required: true, schema: {type: string, format: uuid}}, {name: api_key, in: query, schema: {type: string, maxLength: 40}}]"))
	}, ptr: "/paths/~1users~1{user_id}/get/parameters/1"},
	{rule: "GH1005", name: "apiKey scheme in query", spec: func(d doc) {
		set(d, "/components/securitySchemes/key", y("{type: apiKey, in: query, name: key}"))
	}, ptr: "/components/securitySchemes/key"},
	{rule: "GH1006", spec: func(d doc) {
		set(d, "/components/securitySchemes/oauth/flows/implicit", y("{authorizationUrl: 'https://idp.example.com/a', scopes: {read: r}}"))
	}, ptr: "/components/securitySchemes/oauth/flows/implicit"},
	{rule: "GH1007", spec: func(d doc) {
		set(d, "/components/securitySchemes/oauth/flows/password", y("{tokenUrl: 'https://idp.example.com/t', scopes: {read: r}}"))
	}, ptr: "/components/securitySchemes/oauth/flows/password"},
	{rule: "GH1008", spec: func(d doc) { set(d, "/servers", y("[{url: 'http://api.example.com'}]")) }, ptr: "/servers/0/url"},
	{rule: "GH1009", spec: func(d doc) { set(d, "/paths/~1admin~1stats/get/security", y("[{oauth: [read]}]")) }, ptr: "/paths/~1admin~1stats/get/security"},
	{rule: "GH1010", spec: func(d doc) {
		set(d, "/components/securitySchemes/jwt", y("{type: http, scheme: bearer, bearerFormat: JWT}"))
	}, ptr: "/components/securitySchemes/jwt"},
	{rule: "GH1011", spec: func(d doc) {
		set(d, "/components/securitySchemes/key", y("{type: apiKey, in: header, name: X-API-Key}"))
	}, ptr: "/components/securitySchemes/key"},
	{rule: "GH1101", spec: func(d doc) { del(d, "/components/schemas/NewUser/properties/name/maxLength") }, ptr: "/components/schemas/NewUser/properties/name"},
	{rule: "GH1102", spec: func(d doc) { del(d, "/components/schemas/NewUser/properties/tags/maxItems") }, ptr: "/components/schemas/NewUser/properties/tags"},
	{rule: "GH1103", spec: func(d doc) { del(d, "/components/schemas/NewUser/properties/age/maximum") }, ptr: "/components/schemas/NewUser/properties/age"},
	{rule: "GH1104", spec: func(d doc) { del(d, "/components/schemas/NewUser/additionalProperties") }, ptr: "/components/schemas/NewUser"},
	{rule: "GH1104", name: "additionalProperties true", spec: func(d doc) { set(d, "/components/schemas/NewUser/additionalProperties", true) }, ptr: "/components/schemas/NewUser"},
	{rule: "GH1105", spec: func(d doc) {
		set(d, "/components/schemas/NewUser/properties/owner", y("{type: string, format: uuid, readOnly: true}"))
	}, ptr: "/components/schemas/NewUser/properties/owner"},
	{rule: "GH1106", spec: func(d doc) {
		set(d, "/components/schemas/User/properties/password_hash", y("{type: string}"))
	}, ptr: "/components/schemas/User/properties/password_hash"},
	{rule: "GH1107", spec: func(d doc) {
		set(d, "/paths/~1users~1{user_id}/get/responses/200/content", y("{application/json: {}}"))
	}, ptr: "/paths/~1users~1{user_id}/get/responses/200/content/application~1json"},
	{rule: "GH1201", spec: func(d doc) { del(d, "/paths/~1users~1{user_id}/get/responses/400") }, ptr: "/paths/~1users~1{user_id}/get/responses"},
	{rule: "GH1202", spec: func(d doc) { del(d, "/paths/~1users~1{user_id}/get/responses/401") }, ptr: "/paths/~1users~1{user_id}/get/responses"},
	{rule: "GH1203", spec: func(d doc) { del(d, "/paths/~1users~1{user_id}/get/responses/403") }, ptr: "/paths/~1users~1{user_id}/get/responses"},
	{rule: "GH1204", spec: func(d doc) { del(d, "/paths/~1users~1{user_id}/get/responses/429") }, ptr: "/paths/~1users~1{user_id}/get/responses"},
	{rule: "GH1205", spec: func(d doc) { del(d, "/components/responses/TooMany/headers") }, ptr: "/paths/~1users~1{user_id}/get/responses/429"},
	{rule: "GH1206", name: "no config", spec: func(d doc) {
		set(d, "/paths/~1users~1{user_id}/get/parameters", y("[{name: user_id, in: path, required: true, schema: {type: integer, minimum: 1, maximum: 1000000}}]"))
	}, gw: func(*audit.Gateway) *audit.Gateway { return nil }, ptr: "/paths/~1users~1{user_id}/get/parameters/0"},
	{rule: "GH1206", name: "config without owner", spec: func(d doc) {
		set(d, "/paths/~1users~1{user_id}/get/parameters", y("[{name: user_id, in: path, required: true, schema: {type: string, pattern: '^[0-9]+$', maxLength: 12}}]"))
	}, gw: func(g *audit.Gateway) *audit.Gateway { g.Rules = g.Rules[:1]; return g }, ptr: "/paths/~1users~1{user_id}/get/parameters/0"},
	{rule: "GH1301", spec: func(d doc) { set(d, "/servers", y("[{url: 'https://staging-api.example.com/v1'}]")) }, ptr: "/servers/0/url"},
	{rule: "GH1301", name: "private address", spec: func(d doc) { set(d, "/servers", y("[{url: 'https://10.1.2.3'}]")) }, ptr: "/servers/0/url"},
	{rule: "GH1302", name: "no info.version", spec: func(d doc) { set(d, "/info/version", "") }, ptr: "/info"},
	{rule: "GH1302", name: "two path versions", spec: func(d doc) {
		paths := d["paths"].(map[string]any)
		b, _ := yaml.Marshal(paths["/admin/stats"])
		set(d, "/paths/~1v1~1stats", y(string(b)))
		set(d, "/paths/~1v2~1stats", y(string(b)))
		del(d, "/paths/~1admin~1stats")
		set(d, "/paths/~1v1~1stats/get/operationId", "statsV1")
	}, ptr: "/paths/~1v1~1stats/get"},
	{rule: "GH1303", spec: func(d doc) {
		set(d, "/components/schemas/NewUser/properties/callback_url", y("{type: string, maxLength: 200}"))
	}, ptr: "/components/schemas/NewUser/properties/callback_url"},
	{rule: "GH1401", gw: func(g *audit.Gateway) *audit.Gateway { g.Default = "public"; return g }, ptr: "/paths/~1users/post"},
	{rule: "GH1402", gw: func(g *audit.Gateway) *audit.Gateway { g.Rules = append(g.Rules[:1], g.Rules[2]); return g }, ptr: "/paths/~1users~1{user_id}/get/parameters/0"},
	{rule: "GH1403", gw: func(g *audit.Gateway) *audit.Gateway { g.Rules = g.Rules[:2]; return g }, ptr: "/paths/~1admin~1stats/get"},
	{rule: "GH1404", gw: func(g *audit.Gateway) *audit.Gateway { g.LoginOperations = nil; return g }, ptr: "/paths/~1login/post"},
	{rule: "GH1405", name: "filter off", gw: func(g *audit.Gateway) *audit.Gateway { g.ResponseMode = "off"; return g }, ptr: ""},
	{rule: "GH1405", name: "no schema", spec: func(d doc) {
		set(d, "/paths/~1users~1{user_id}/get/responses/200/content", y("{application/json: {}}"))
	}, ptr: "/paths/~1users~1{user_id}/get/responses"},
	{rule: "GH1406", spec: func(d doc) { del(d, "/components/schemas/NewUser/properties/name/maxLength") }, ptr: ""},
}

func TestRules(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range ruleCases {
		covered[tc.rule] = true
		for _, v := range versions {
			if tc.only != "" && tc.only != v {
				continue
			}
			t.Run(tc.rule+"/"+tc.name+"/"+v, func(t *testing.T) {
				d := cleanDoc(t, v)
				if tc.spec != nil {
					tc.spec(d)
				}
				gw := cleanGateway()
				if tc.gw != nil {
					gw = tc.gw(gw)
				}
				res := audit1(t, d, gw)
				var hits []audit.Finding
				for _, f := range res.Findings {
					if f.RuleID == tc.rule {
						hits = append(hits, f)
					}
				}
				if len(hits) == 0 {
					t.Fatalf("%s not reported; findings: %v", tc.rule, ids(res))
				}
				found := false
				for _, f := range hits {
					if f.Pointer == tc.ptr {
						found = true
						if f.Line == 0 && f.Pointer != "" {
							t.Errorf("%s at %s has no line", tc.rule, f.Pointer)
						}
					}
				}
				if !found {
					t.Errorf("%s reported at %v, want pointer %q", tc.rule, pointers(hits), tc.ptr)
				}
				if hits[0].Severity > scan.Info && res.Score >= 100 {
					t.Errorf("score = %d with a finding, want < 100", res.Score)
				}
				// the non-triggering twin: the clean spec with the same gateway
				// shape minus the mutation
				clean := audit1(t, cleanDoc(t, v), cleanGateway())
				for _, f := range clean.Findings {
					if f.RuleID == tc.rule {
						t.Errorf("clean spec reports %s at %s", tc.rule, f.Pointer)
					}
				}
			})
		}
	}
	for _, r := range audit.Rules() {
		if !covered[r.ID] {
			t.Errorf("rule %s has no test case", r.ID)
		}
	}
}

func ids(r *audit.Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.RuleID+"@"+f.Pointer)
	}
	return out
}

func pointers(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Pointer)
	}
	return out
}

func mustYAML(t *testing.T, d doc) []byte {
	t.Helper()
	b, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
