package openapi

import "testing"

// BenchmarkLoadOverlays measures what overlays add to a load (startup and
// each reload; never per request): the testdata notes spec alone, with two
// overlay files (5 actions), and with two files plus routes edits.
//
//	go test -run '^$' -bench BenchmarkLoadOverlays -benchmem -benchtime=200x ./openapi
func BenchmarkLoadOverlays(b *testing.B) {
	files := []string{ovPath("bound.yaml"), ovPath("second.yaml")}
	edits := []OperationEdit{
		{Key: "listNotes", Source: "routes.listNotes", Deny: true},
		{Key: "createNote", Source: "routes.createNote", Constraints: map[string]FieldConstraint{"/title": {MaxLength: i64(10)}}},
	}
	for _, tc := range []struct {
		name  string
		files []string
		edits []OperationEdit
	}{
		{"plain", nil, nil},
		{"2-files", files, nil},
		{"2-files+edits", files, edits},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := LoadWithOverlays(ovPath("api.yaml"), tc.files, tc.edits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
