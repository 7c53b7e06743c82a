package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

func has(r *audit.Result, rule, ptr string) bool {
	for _, f := range r.Findings {
		if f.RuleID == rule && (ptr == "" || f.Pointer == ptr) {
			return true
		}
	}
	return false
}

// TestUnevaluatedProperties31: in 3.1, unevaluatedProperties: false closes
// a request object as well as additionalProperties: false.
func TestUnevaluatedProperties31(t *testing.T) {
	d := cleanDoc(t, "3.1.0")
	del(d, "/components/schemas/NewUser/additionalProperties")
	set(d, "/components/schemas/NewUser/unevaluatedProperties", false)
	if res := audit1(t, d, cleanGateway()); has(res, "GH1104", "") {
		t.Errorf("GH1104 reported for unevaluatedProperties: false: %v", ids(res))
	}
	del(d, "/components/schemas/NewUser/unevaluatedProperties")
	res := audit1(t, d, cleanGateway())
	for _, f := range res.Findings {
		if f.RuleID == "GH1104" && !strings.Contains(f.Detail, "unevaluatedProperties") {
			t.Errorf("3.1 GH1104 detail %q does not mention unevaluatedProperties", f.Detail)
		}
	}
}

func TestIgnore(t *testing.T) {
	for _, tc := range []struct {
		name, ptr string
		ids       any
		gone      string
	}{
		{"on the property", "/components/schemas/NewUser/properties/name/x-gatehouse-ignore", []any{"GH1101"}, "GH1101"},
		{"on an ancestor", "/components/schemas/x-gatehouse-ignore", []any{"gh1101"}, "GH1101"},
		{"at the root", "/x-gatehouse-ignore", "GH1101", "GH1101"},
		{"on the operation", "/paths/~1users~1{user_id}/get/x-gatehouse-ignore", []any{"GH1204"}, "GH1204"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := cleanDoc(t, "3.0.3")
			del(d, "/components/schemas/NewUser/properties/name/maxLength")
			del(d, "/paths/~1users~1{user_id}/get/responses/429")
			before := audit1(t, d, nil)
			if !has(before, tc.gone, "") {
				t.Fatalf("%s not reported before the ignore", tc.gone)
			}
			set(d, tc.ptr, tc.ids)
			after := audit1(t, d, nil)
			if has(after, tc.gone, "") {
				t.Errorf("%s still reported with x-gatehouse-ignore at %s", tc.gone, tc.ptr)
			}
			if after.Ignored != before.Ignored+1 {
				t.Errorf("ignored = %d, want %d", after.Ignored, before.Ignored+1)
			}
			if after.Score <= before.Score {
				t.Errorf("score %d -> %d, want it to rise", before.Score, after.Score)
			}
		})
	}
}

const swagger2 = `swagger: "2.0"
info: {title: legacy, version: "1"}
host: api.dev.example.com
schemes: [http]
basePath: /v1
securityDefinitions:
  basic: {type: basic}
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - {name: id, in: path, required: true, type: integer}
        - {name: token, in: query, type: string}
      responses:
        "200":
          description: ok
          schema:
            type: object
            properties:
              card_number: {type: string}
`

func TestSwagger2(t *testing.T) {
	s, err := openapi.LoadBytes([]byte(swagger2), "legacy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Run(context.Background(), s, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GH1002", "GH1004", "GH1005", "GH1008", "GH1106", "GH1206", "GH1301"} {
		if !has(res, want, "") {
			t.Errorf("swagger 2.0: %s not reported; got %v", want, ids(res))
		}
	}
	for _, f := range res.Findings {
		if f.RuleID == "GH1005" && (f.Line != 14 || f.Column != 11) {
			// the query token parameter is at 14:11 of the 2.0 source
			t.Errorf("GH1005 at %d:%d, want 14:11 (position in the 2.0 file)", f.Line, f.Column)
		}
	}
}

func TestScore(t *testing.T) {
	sev := map[string]scan.Severity{"A": scan.High, "B": scan.Medium, "C": scan.Low, "D": scan.Info, "E": scan.Critical}
	for _, tc := range []struct {
		counts map[string]int
		want   int
	}{
		{map[string]int{}, 100},
		{map[string]int{"A": 1}, 92},
		{map[string]int{"A": 11}, 88},        // 8 × 1.5 (cap reached at 11)
		{map[string]int{"A": 1000}, 88},      // capped
		{map[string]int{"B": 3}, 96},         // 4 × 1.1 = 4.4
		{map[string]int{"C": 5, "D": 9}, 99}, // 1 × 1.2; info costs nothing
		{map[string]int{"A": 100, "B": 100, "C": 100, "E": 100}, 58},
		{map[string]int{"A": 1, "B": 0}, 92},
	} {
		if got := audit.Score(tc.counts, sev); got != tc.want {
			t.Errorf("Score(%v) = %d, want %d", tc.counts, got, tc.want)
		}
	}
	many := map[string]int{}
	for i := 0; i < 30; i++ {
		id := string(rune('a' + i))
		many[id] = 50
		sev[id] = scan.Critical
	}
	if got := audit.Score(many, sev); got != 0 {
		t.Errorf("Score(30 critical rules) = %d, want 0 (never negative)", got)
	}
}

func TestJSONPath(t *testing.T) {
	for _, ptr := range []string{
		"/components/schemas/User/properties/name",
		"/paths/~1users~1{id}/post/requestBody/content/application~1json/schema",
		"/paths/~1a/get/parameters/0/schema",
		"/components/schemas/A/allOf/1/properties/it's",
		"/paths/~1x/get/responses/200/content/text~1plain/schema",
		"/components/schemas/we~0ird\\key",
	} {
		jp := audit.PointerToJSONPath(ptr)
		back, ok := audit.JSONPathToPointer(jp)
		if !ok || back != ptr {
			t.Errorf("JSONPathToPointer(PointerToJSONPath(%q) = %q) = %q, %v", ptr, jp, back, ok)
		}
	}
	if got := audit.PointerToJSONPath("/paths/~1a/get/parameters/0"); got != "$['paths']['/a']['get']['parameters'][0]" {
		t.Errorf("array index rendered as %s", got)
	}
	if got := audit.PointerToJSONPath("/paths/~1a/get/responses/200"); !strings.HasSuffix(got, "['200']") {
		t.Errorf("response code rendered as %s, want a name selector", got)
	}
	for _, bad := range []string{"$..name", "$.paths[*]", "$[?(@.x)]", "paths", "$['unterminated"} {
		if _, ok := audit.JSONPathToPointer(bad); ok {
			t.Errorf("JSONPathToPointer(%q) accepted", bad)
		}
	}
	if p, ok := audit.JSONPathToPointer("$.components.schemas.User"); !ok || p != "/components/schemas/User" {
		t.Errorf("dotted path = %q, %v", p, ok)
	}
}

func TestOverlayRoundTrip(t *testing.T) {
	d := cleanDoc(t, "3.0.3")
	del(d, "/components/schemas/NewUser/properties/name/maxLength")
	del(d, "/components/schemas/NewUser/properties/tags/maxItems")
	del(d, "/components/schemas/NewUser/additionalProperties")
	b := mustYAML(t, d)
	s, err := openapi.LoadBytes(b, "api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	acts, err := audit.SuggestOverlay(s)
	if err != nil {
		t.Fatal(err)
	}
	out := audit.WriteOverlay("t", "api.yaml", acts)
	bounded, skipped, err := audit.OverlayTargets(out)
	if err != nil || skipped != 0 {
		t.Fatalf("OverlayTargets: %v, skipped %d\n%s", err, skipped, out)
	}
	for _, p := range []string{"/components/schemas/NewUser/properties/name", "/components/schemas/NewUser/properties/tags", "/components/schemas/NewUser"} {
		if !bounded[p] {
			t.Errorf("overlay does not bound %s:\n%s", p, out)
		}
	}
	// with the overlay counted, GH1406 goes away; without, it is there
	gw := cleanGateway()
	if res := audit1(t, d, gw); !has(res, "GH1406", "") {
		t.Error("GH1406 not reported without the overlay")
	}
	gw.Bounded = bounded
	if res := audit1(t, d, gw); has(res, "GH1406", "") {
		t.Errorf("GH1406 reported with the overlay applied: %v", ids(res))
	}
	if _, _, err := audit.OverlayTargets([]byte("overlay: 2.0.0\nactions: []\n")); err == nil {
		t.Error("OverlayTargets accepted overlay 2.0.0")
	}
}

// TestOverlayMarksPathInputs: inputs named like a file name or path get
// x-gatehouse-path: true in the suggested overlay (the gateway then refuses
// .., absolute paths and their encodings there); an upload's content, an
// enum, a field already marked and prose are left alone.
func TestOverlayMarksPathInputs(t *testing.T) {
	const spec = `openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /render:
    post:
      parameters:
        - { name: file_path, in: query, schema: { type: string } }
        - { name: layout, in: query, schema: { type: string, enum: [a, b] } }
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                title: { type: string, maxLength: 80 }
                description: { type: string }
                options:
                  type: object
                  properties:
                    template: { type: string, maxLength: 64 }
                    path: { type: string, enum: [a, b] }
                    filename: { type: string, x-gatehouse-path: false }
      responses: { "200": { description: ok } }
  /upload:
    post:
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                file: { type: string, format: binary }
      responses: { "201": { description: ok } }
`
	s, err := openapi.LoadBytes([]byte(spec), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	acts, err := audit.SuggestOverlay(s)
	if err != nil {
		t.Fatal(err)
	}
	marked := map[string]bool{}
	for _, a := range acts {
		for _, kv := range a.Update {
			if kv[0] == "x-gatehouse-path" && kv[1] == "true" {
				marked[a.Pointer] = true
			}
			if strings.HasSuffix(a.Pointer, "/properties/file") {
				t.Errorf("an upload's content got %s: %s", kv[0], a.Description)
			}
		}
	}
	want := []string{
		"/paths/~1render/post/parameters/0/schema",
		"/paths/~1render/post/requestBody/content/application~1json/schema/properties/options/properties/template",
	}
	for _, p := range want {
		if !marked[p] {
			t.Errorf("%s not marked x-gatehouse-path; marked: %v", p, marked)
		}
	}
	if len(marked) != len(want) {
		t.Errorf("marked %v, want only %v", marked, want)
	}
}
