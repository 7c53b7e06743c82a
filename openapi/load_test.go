package openapi

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadMultiFile(t *testing.T) {
	s, err := Load("testdata/multi/openapi.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Version != "3.0.3" {
		t.Errorf("Version = %q, want 3.0.3", s.Version)
	}
	var ids []string
	for _, o := range s.Operations {
		ids = append(ids, o.ID)
	}
	want := []string{"listUsers", "getUser", "DELETE /users/{id}"}
	if !slices.Equal(ids, want) {
		t.Fatalf("operation IDs = %v, want %v", ids, want)
	}
	lu := s.Operation("listUsers")
	if lu == nil || !slices.Equal(lu.Tags, []string{"users", "admin"}) || lu.Method != "GET" || lu.Template != "/users" {
		t.Fatalf("listUsers = %+v", lu)
	}
	// the cross-file schema ref is resolved
	sch := Op(lu).Responses.Codes.GetOrZero("200").Content.GetOrZero("application/json").Schema.Schema()
	item := sch.Items.A.Schema()
	if item == nil || item.Properties.GetOrZero("id") == nil {
		t.Fatalf("cross-file $ref ../schemas/user.yaml not resolved: %+v", item)
	}
	gu := s.Operation("getUser")
	if gu.Pointer != "/paths/~1users~1{id}/get" {
		t.Errorf("Pointer = %q", gu.Pointer)
	}
	// merged params: path-level id, operation-level X-Trace overrides path-level one
	if len(Params(gu)) != 2 || Params(gu)[0].Name != "id" || Params(gu)[1].Name != "X-Trace" || Params(gu)[1].Required == nil || !*Params(gu)[1].Required {
		t.Errorf("merged params wrong: %d", len(Params(gu)))
	}
	del := s.Operation("DELETE /users/{id}")
	if del == nil || del.HasOperationID || len(Params(del)) != 2 {
		t.Fatalf("DELETE op = %+v", del)
	}
	if s.Operation("nope") != nil {
		t.Error("Operation(nope) != nil")
	}
	file, line, col := s.Position(gu.Pointer)
	if !strings.HasSuffix(file, "openapi.yaml") || line != 10 || col != 5 {
		t.Errorf("Position(%q) = %s:%d:%d, want openapi.yaml:10:5", gu.Pointer, file, line, col)
	}
	_, line, _ = s.Position(gu.Pointer + "/parameters/0/required")
	if line != 14 {
		t.Errorf("Position(parameters/0/required) line = %d, want 14", line)
	}
}

func TestLoadSwagger2(t *testing.T) {
	s, err := Load("testdata/swagger2.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Version != "2.0" || len(s.Operations) != 2 {
		t.Fatalf("Version %q, %d operations", s.Version, len(s.Operations))
	}
	up := s.Operation("updatePet")
	if up == nil || Op(up).RequestBody == nil {
		t.Fatalf("updatePet not converted with request body: %+v", up)
	}
	if _, line, _ := s.Position(up.Pointer); line != 12 {
		t.Errorf("Position line = %d, want 12", line)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"duplicate operationId", "testdata/dupid.yaml", []string{"dupid.yaml:8:7", `operationId "same" already used`}},
		{"missing ref file", "testdata/badref.yaml", []string{"badref.yaml"}},
		{"no such file", "testdata/nope.yaml", []string{"nope.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.file)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadBytes(t *testing.T) {
	tests := []struct {
		name, doc string
		ops       int
		wantErr   bool
	}{
		{"json 3.1", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}}}`, 1, false},
		{"no paths", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n", 0, false},
		{"not openapi", "hello: world\n", 0, true},
		{"garbage", "{{{", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadBytes([]byte(tt.doc), "mem.yaml")
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "mem.yaml") {
					t.Fatalf("err = %v, want an error naming mem.yaml", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadBytes: %v", err)
			}
			if len(s.Operations) != tt.ops {
				t.Errorf("%d operations, want %d", len(s.Operations), tt.ops)
			}
		})
	}
}

var sharedSpecs = filepath.Join("..", "..", "..", "shared", "specs")

func TestLoadErrInvalidSpec(t *testing.T) {
	_, err := LoadBytes([]byte("hello: world"), "x")
	if !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("err = %v, want ErrInvalidSpec", err)
	}
}

func TestPositionFollowsLocalRef(t *testing.T) {
	doc := `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          $ref: "#/components/responses/Ok"
components:
  responses:
    Ok:
      description: fine
`
	s, err := LoadBytes([]byte(doc), "mem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pointer   string
		line, col int
	}{
		{"", 1, 1},
		{"/paths/~1a/get", 5, 5},
		{"/paths/~1a/get/responses/200", 7, 9},
		{"/paths/~1a/get/responses/200/description", 12, 7}, // through the $ref
		{"/paths/~1a/get/nope/deeper", 5, 5},                // deepest node reached
		{"/components/responses/Ok", 11, 5},
	}
	for _, tt := range tests {
		file, line, col := s.Position(tt.pointer)
		if file != "mem.yaml" || line != tt.line || col != tt.col {
			t.Errorf("Position(%q) = %s:%d:%d, want mem.yaml:%d:%d", tt.pointer, file, line, col, tt.line, tt.col)
		}
	}
}
