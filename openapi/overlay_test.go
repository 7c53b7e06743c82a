package openapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi/datamodel/high/base"
)

func ovPath(name string) string { return filepath.Join("testdata", "overlay", name) }

func TestLoadWithOverlays(t *testing.T) {
	s, rep, err := LoadWithOverlays(ovPath("api.yaml"), []string{ovPath("bound.yaml"), ovPath("second.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.String(), "2 files, 5 actions, 5 nodes changed"; got != want {
		t.Errorf("report = %q, want %q", got, want)
	}
	if op := s.Operation("deleteNote"); op != nil {
		t.Errorf("deleteNote still in the spec after remove")
	}
	note := Model(s).Components.Schemas.GetOrZero("Note").Schema()
	title := note.Properties.GetOrZero("title").Schema()
	if title.MaxLength == nil || *title.MaxLength != 64 {
		t.Errorf("Note.title.maxLength = %v, want 64", title.MaxLength)
	}
	if note.AdditionalProperties == nil || note.AdditionalProperties.B {
		t.Errorf("Note.additionalProperties = %v, want false", note.AdditionalProperties)
	}
}

func TestOverlayErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"stale.yaml", []string{"stale.yaml:6:13: actions[1]", `"$.components.schemas.Memo.properties.title"`, "matched zero nodes"}},
		{"bomb.yaml", []string{"bomb.yaml:4:10: yaml aliases are not allowed"}},
		{"mismatch.yaml", []string{"mismatch.yaml:4:13: actions[0]", "incompatible"}},
		{"noinfo.yaml", []string{"noinfo.yaml:1:1:", "info"}},
		{"badpath.yaml", []string{"badpath.yaml:4:13: actions[0]", "target"}},
		{"syntax.yaml", []string{"syntax.yaml", "L2.C7"}},
		{"missing.yaml", []string{"missing.yaml", "no such file"}},
		{"invalid-result.yaml", []string{"invalid-result.yaml", "Nowhere"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, _, err := LoadWithOverlays(ovPath("api.yaml"), []string{ovPath("bound.yaml"), ovPath(tc.file)}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.file != "missing.yaml" && !errors.Is(err, ErrInvalidOverlay) && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %v wraps neither ErrInvalidOverlay nor ErrInvalidSpec", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestOverlayBlamesTheAction(t *testing.T) {
	_, _, err := LoadWithOverlays(ovPath("api.yaml"), []string{ovPath("bound.yaml"), ovPath("invalid-result.yaml")}, nil)
	if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, ErrInvalidOverlay) {
		t.Fatalf("err = %v, want ErrInvalidSpec and ErrInvalidOverlay", err)
	}
	if want := "invalid-result.yaml:4:13: actions[0]: this action makes spec"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}

func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }

func TestOperationEdits(t *testing.T) {
	edits := []OperationEdit{
		{Key: "deleteNote", Source: "routes.deleteNote", Deny: true},
		{Key: "createNote", Source: "routes.createNote", Constraints: map[string]FieldConstraint{
			"/title":      {MaxLength: i64(10)},
			"/owner/name": {Pattern: "^[a-z]+$"},
			"/tags/-":     {Enum: []string{"a", "b"}},
		}},
		{Key: "GET /notes", Source: "routes.GET /notes", Constraints: map[string]FieldConstraint{
			"query:q":     {MaxLength: i64(5)},
			"query:limit": {Maximum: f64(50), Minimum: f64(1)},
		}},
		{Key: "getNote", Source: "routes.getNote", Constraints: map[string]FieldConstraint{
			"path:id": {Pattern: "^[0-9]+$"},
		}},
	}
	s, rep, err := LoadWithOverlays(ovPath("api.yaml"), nil, edits)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 1 || rep.Actions != 6 {
		t.Errorf("report = %v, want 1 file, 6 actions", rep)
	}
	if s.Operation("deleteNote") != nil {
		t.Error("deleteNote not removed")
	}
	create := s.Operation("createNote")
	body := Op(create).RequestBody.Content.GetOrZero("application/json").Schema.Schema()
	if ml := body.Properties.GetOrZero("title").Schema().MaxLength; ml == nil || *ml != 10 {
		t.Errorf("createNote title maxLength = %v, want 10", ml)
	}
	if p := body.Properties.GetOrZero("owner").Schema().Properties.GetOrZero("name").Schema().Pattern; p != "^[a-z]+$" {
		t.Errorf("createNote owner.name pattern = %q", p)
	}
	if e := body.Properties.GetOrZero("tags").Schema().Items.A.Schema().Enum; len(e) != 2 {
		t.Errorf("createNote tags items enum = %v", e)
	}
	// The component is untouched: getNote's response still uses it unbounded.
	if ml := Model(s).Components.Schemas.GetOrZero("Note").Schema().Properties.GetOrZero("title").Schema().MaxLength; ml != nil {
		t.Errorf("components Note.title.maxLength = %v: a per-operation constraint leaked into the component", *ml)
	}
	params := map[string]*struct{ ml, max, pat any }{}
	for _, op := range []string{"listNotes", "getNote"} {
		for _, p := range Params(s.Operation(op)) {
			sc := p.Schema.Schema()
			v := &struct{ ml, max, pat any }{}
			if sc.MaxLength != nil {
				v.ml = *sc.MaxLength
			}
			if sc.Maximum != nil {
				v.max = *sc.Maximum
			}
			v.pat = sc.Pattern
			params[op+"."+p.Name] = v
		}
	}
	if v := params["listNotes.q"]; v == nil || v.ml != int64(5) {
		t.Errorf("listNotes q = %+v, want maxLength 5", v)
	}
	if v := params["listNotes.limit"]; v == nil || v.max != float64(50) {
		t.Errorf("listNotes limit = %+v, want maximum 50", v)
	}
	if v := params["getNote.id"]; v == nil || v.pat != "^[0-9]+$" {
		t.Errorf("getNote id = %+v, want the pattern", v)
	}
	// The path-item parameter is overridden for getNote only.
	if n := len(Params(s.Operation("getNote"))); n != 1 {
		t.Errorf("getNote has %d params, want 1 (operation copy overrides the path item's)", n)
	}
}

func TestOperationEditErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit OperationEdit
		want string
	}{
		{"unknown op", OperationEdit{Key: "nope", Source: "routes.nope", Deny: true}, "routes.nope: "},
		{"unknown field", OperationEdit{Key: "createNote", Source: "routes.createNote", Constraints: map[string]FieldConstraint{"/nope": {MaxLength: i64(1)}}}, "routes.createNote.constraints./nope: "},
		{"unknown param", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"query:x": {MaxLength: i64(1)}}}, "routes.listNotes.constraints.query:x: "},
		{"bad field", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"body.q": {MaxLength: i64(1)}}}, "must be a JSON pointer"},
		{"no body", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"/q": {MaxLength: i64(1)}}}, "no request body"},
		{"bad pattern", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"query:q": {Pattern: "("}}}, "pattern"},
		{"bad enum", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"query:limit": {Enum: []string{"x"}}}}, "not an integer"},
		{"empty", OperationEdit{Key: "listNotes", Source: "routes.listNotes", Constraints: map[string]FieldConstraint{"query:q": {}}}, "no keyword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadWithOverlays(ovPath("api.yaml"), nil, []OperationEdit{tc.edit})
			var ee *EditError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want an *EditError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOverlayLimits: oversized overlays, too many actions, an action whose
// matches times its update would blow the spec up, and deep nesting give
// located errors, not a crash or an out-of-memory.
func TestOverlayLimits(t *testing.T) {
	head := "overlay: 1.0.0\ninfo: {title: t, version: '1'}\n"
	huge := head + "x-pad: \"" + strings.Repeat("a", MaxOverlayBytes) + "\"\nactions:\n  - {target: $.info, update: {x-a: 1}}\n"
	var many strings.Builder
	many.WriteString(head + "actions:\n")
	for i := 0; i <= MaxOverlayActions; i++ {
		many.WriteString("  - {target: $.info, update: {x-a: 1}}\n")
	}
	big := head + "actions:\n  - target: $..*\n    update: {x-a: [" + strings.Repeat("1,", 200000) + "1]}\n"
	copyAll := head + "actions:\n  - {target: \"$['x-list'][*]\", copy: \"$['x-big']\"}\n"
	deep := head + "actions:\n  - target: $.info\n    update: {x-a: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}\n"
	for _, tc := range []struct{ name, data, want string }{
		{"huge", huge, "bytes, more than"},
		{"many actions", many.String(), "actions, more than"},
		{"big update on every node", big, "fuzz.yaml:4:13: actions[0]: the overlay would add more than"},
		{"copy the document into every node", copyAll, "fuzz.yaml:4:14: actions[0]: the overlay would add more than"},
		{"deep", deep, "fuzz.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := os.ReadFile(ovPath("api.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			// 2000 empty objects, and one object of 2000 keys to copy into each.
			spec = append(spec, "x-list: ["+strings.Repeat("{},", 1999)+"{}]\nx-big: {"...)
			for i := 0; i < 2000; i++ {
				spec = fmt.Appendf(spec, "k%d: 1,", i)
			}
			spec = append(spec, "}\n"...)
			ov, err := ParseOverlay([]byte(tc.data), "fuzz.yaml")
			if err == nil {
				_, _, err = ApplyOverlays(spec, ov)
			}
			if !errors.Is(err, ErrInvalidOverlay) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %.300v, want ErrInvalidOverlay containing %q", err, tc.want)
			}
		})
	}
}

// TestOverlaySwaggerAndJSON: overlays apply to a Swagger 2.0 document as
// written (before conversion) and to a JSON spec; routes constraints on a
// 2.0 parameter land on the parameter itself.
func TestOverlaySwaggerAndJSON(t *testing.T) {
	dir := t.TempDir()
	ov := filepath.Join(dir, "ov.yaml")
	if err := os.WriteFile(ov, []byte("overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n  - {target: '$.info', update: {x-bounded: true}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonSpec := filepath.Join(dir, "api.json")
	if err := os.WriteFile(jsonSpec, []byte(`{"openapi":"3.0.3","info":{"title":"j","version":"1"},"paths":{"/a":{"get":{"operationId":"getA","parameters":[{"name":"q","in":"query","schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, rep, err := LoadWithOverlays(jsonSpec, []string{ov}, []OperationEdit{{Key: "getA", Source: "routes.getA", Constraints: map[string]FieldConstraint{"query:q": {MaxLength: i64(4)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if ml := Params(s.Operation("getA"))[0].Schema.Schema().MaxLength; ml == nil || *ml != 4 || rep.Files != 2 {
		t.Errorf("JSON spec: q maxLength = %v, report %v", ml, rep)
	}
	s2, _, err := LoadWithOverlays(filepath.Join("testdata", "swagger2.yaml"), []string{ov}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Version != "2.0" {
		t.Errorf("swagger 2.0 spec loaded as %q", s2.Version)
	}
	s3, _, err := LoadWithOverlays(filepath.Join("testdata", "swagger2.yaml"), nil, []OperationEdit{
		{Key: "getPet", Source: "routes.getPet", Constraints: map[string]FieldConstraint{"path:petId": {Maximum: f64(99)}}},
		{Key: "updatePet", Source: "routes.updatePet", Constraints: map[string]FieldConstraint{"/name": {MaxLength: i64(8)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if mx := Params(s3.Operation("getPet"))[0].Schema.Schema().Maximum; mx == nil || *mx != 99 {
		t.Errorf("swagger 2.0 petId maximum = %v, want 99", mx)
	}
	var name *base.Schema
	for _, mt := range Op(s3.Operation("updatePet")).RequestBody.Content.FromOldest() {
		name = mt.Schema.Schema().Properties.GetOrZero("name").Schema()
	}
	if name == nil || name.MaxLength == nil || *name.MaxLength != 8 {
		t.Errorf("swagger 2.0 body name maxLength = %v, want 8", name.MaxLength)
	}
}
