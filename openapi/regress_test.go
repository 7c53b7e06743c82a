package openapi

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegressionCorpus loads each small document of testdata/regress (written
// for these tests) and checks the outcome: the located error it must give,
// or that it loads. Each reproduces a refusal or a crash seen on real specs.
func TestRegressionCorpus(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  error    // nil: loads
		want []string // substrings of the error (chain and position)
	}{
		{"cycle-schema.yaml", ErrRefCycle, []string{"#/components/schemas/A → #/components/schemas/B → #/components/schemas/A at testdata/regress/cycle-schema.yaml:15:15"}},
		{"cycle-self.yaml", ErrRefCycle, []string{"#/components/schemas/A → #/components/schemas/A at testdata/regress/cycle-self.yaml:5:34"}},
		{"cycle-allof.yaml", ErrRefCycle, []string{"#/components/schemas/A → #/components/schemas/A/allOf/0 → #/components/schemas/B → #/components/schemas/B/allOf/0 → #/components/schemas/A at testdata/regress/cycle-allof.yaml:5:"}},
		{"cycle-parameter.yaml", ErrRefCycle, []string{"#/components/parameters/P → #/components/parameters/Q → #/components/parameters/P at testdata/regress/cycle-parameter.yaml:5:"}},
		{"cycle-response.yaml", ErrRefCycle, []string{"#/components/responses/R → #/components/responses/S → #/components/responses/R at testdata/regress/cycle-response.yaml:5:"}},
		{"cycle-pathitem.yaml", ErrRefCycle, []string{"#/components/pathItems/P → #/components/pathItems/Q → #/components/pathItems/P at testdata/regress/cycle-pathitem.yaml:5:"}},
		{"cycle-pathitem-paths.yaml", ErrRefCycle, []string{"#/paths/~1a → #/paths/~1b → #/paths/~1a at testdata/regress/cycle-pathitem-paths.yaml:5:"}},
		{"swagger2-cycle.yaml", ErrRefCycle, []string{"#/definitions/A → #/definitions/B → #/definitions/A at testdata/regress/swagger2-cycle.yaml:10:"}},
		{"xfile/root.yaml", ErrRefCycle, []string{"a.yaml# → b.yaml#/B → a.yaml# at b.yaml:2:"}},
		{"recursive-tree.yaml", nil, nil},
		{"missingref/root.yaml", ErrMissingRefFile, []string{`root.yaml:11:30: $ref "./schemas/missing.yaml#/Thing": file schemas/missing.yaml does not exist`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "regress", tc.file)
			s, err := Load(path)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Load(%s) = %v, want success", tc.file, err)
				}
				if len(s.Operations) == 0 {
					t.Fatalf("Load(%s): no operations", tc.file)
				}
				return
			}
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Load(%s) = %v, want %v", tc.file, err, tc.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%s) = %v\nwant it to contain %q", tc.file, err, w)
				}
			}
		})
	}
}

// TestLoadBudget: documents beyond the budget are refused before any
// recursion runs over them.
func TestLoadBudget(t *testing.T) {
	head := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"
	for _, tc := range []struct {
		name string
		doc  string
		err  error
	}{
		{"deep flow sequence", head + "x-deep: " + strings.Repeat("[", MaxSpecDepth+1) + strings.Repeat("]", MaxSpecDepth+1) + "\n", ErrTooLarge},
		{"deep schema nesting", head + "components:\n  schemas:\n    D: " + strings.Repeat("{properties: {a: ", MaxSpecDepth/2+1) + "{}" + strings.Repeat("}}", MaxSpecDepth/2+1) + "\n", ErrTooLarge},
		{"deep but within budget", head + "x-deep: " + strings.Repeat("[", MaxSpecDepth-10) + strings.Repeat("]", MaxSpecDepth-10) + "\n", nil},
		{"too big", head + "x-pad: '" + strings.Repeat("a", MaxSpecBytes) + "'\n", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes([]byte(tc.doc), "budget.yaml")
			if tc.err == nil {
				if err != nil {
					t.Fatalf("LoadBytes = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("LoadBytes = %v, want %v", err, tc.err)
			}
		})
	}
}
