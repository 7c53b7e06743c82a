package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaFile is the published schema, relative to this package.
var schemaFile = filepath.Join("..", "..", "schema", "gatehouse.schema.json")

func generate(t *testing.T) []byte {
	t.Helper()
	docs, err := ParseDocs(".")
	if err != nil {
		t.Fatal(err)
	}
	out, err := GenerateSchema(docs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaUpToDate regenerates the JSON Schema from the config structs and
// compares it with the published file, so the two never drift apart.
func TestSchemaUpToDate(t *testing.T) {
	got := generate(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v\nThe config structs changed or the schema is missing: run\n\tgo test ./internal/config -run TestSchemaUpToDate -update\nand commit schema/gatehouse.schema.json.", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schema/gatehouse.schema.json is out of date with the config structs (a field, tag or doc comment changed).\nRun\n\tgo test ./internal/config -run TestSchemaUpToDate -update\nand commit schema/gatehouse.schema.json.\nFirst difference near: %s", firstDiff(got, want))
	}
	// Generation is deterministic.
	if again := generate(t); !bytes.Equal(got, again) {
		t.Fatal("two generations differ")
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n\tgenerated: " + strings.TrimSpace(al[i]) + "\n\tcommitted: " + strings.TrimSpace(bl[i])
		}
	}
	return "the end of the file (one is longer)"
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(generate(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// yamlToJSON converts YAML to the JSON value the schema validates.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("yaml to json: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exampleConfigs returns every examples/**/gatehouse*.yaml.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	root := filepath.Join("..", "..", "examples")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && strings.HasPrefix(name, "gatehouse") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// TestExamplesMatchSchema validates every example config and every
// testdata/*.good.yaml against the schema, and loads and validates the
// examples with Check: schema and loader must agree on them.
func TestExamplesMatchSchema(t *testing.T) {
	t.Setenv("NOTES_JWT_SECRET", "notes-secret") // examples/self-issued reads its token secret from the environment
	sch := compileSchema(t)
	examples := exampleConfigs(t)
	if len(examples) == 0 {
		t.Log("no examples/**/gatehouse*.yaml yet: only testdata is checked")
	}
	good, _ := filepath.Glob("testdata/*.good.yaml")
	for _, f := range append(examples, good...) {
		t.Run(f, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(yamlToJSON(t, src)); err != nil {
				t.Errorf("%s does not match schema/gatehouse.schema.json:\n%v", f, err)
			}
			// The loader must accept what the schema accepts. Validate must
			// pass too, except for files an example only has at run time
			// (the demo writes its key pair next to a copy of its config):
			// those are logged, not skipped silently.
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load(%s):\n%v", f, err)
			}
			var ve *ValidationError
			if err := c.Validate(); errors.As(err, &ve) {
				for _, p := range ve.Errors() {
					if strings.HasSuffix(p.Msg, "no such file or directory") {
						t.Logf("file missing until run time: %v", p)
						continue
					}
					t.Errorf("Validate(%s): %v", f, p)
				}
			} else if err != nil {
				t.Errorf("Validate(%s): %v", f, err)
			}
		})
	}
}

// TestSchemaStrict checks that the schema rejects what Load rejects (unknown
// keys, wrong shapes) and accepts what Load accepts (null sections, ${ENV}).
func TestSchemaStrict(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range []struct {
		name, src string
		valid     bool
	}{
		{"minimal", "upstream: http://u\nspec: s.yaml\n", true},
		{"empty sections keep defaults", "upstream: http://u\nspec: s.yaml\ntimeouts:\nlimits: ~\n", true},
		{"env in duration", "upstream: http://u\nspec: s.yaml\ntimeouts: {read: \"${READ:-5s}\"}\n", true},
		{"env in bool", "upstream: http://u\nspec: s.yaml\nerrors: {expose_details: \"${DEV}\"}\n", true},
		{"size string", "upstream: http://u\nspec: s.yaml\nlimits: {max_body: 1MiB, max_header_bytes: 65536}\n", true},
		{"env mode", "upstream: http://u\nspec: s.yaml\nmode: ${MODE}\n", true},
		{"route override", "upstream: http://u\nspec: s.yaml\nroutes: {getUser: {mode: monitor}}\n", true},
		{"unknown top-level key", "upstream: http://u\nspec: s.yaml\nspek: x\n", false},
		{"unknown nested key", "upstream: http://u\nspec: s.yaml\ntimeouts: {raed: 5s}\n", false},
		{"unknown key in map value", "upstream: http://u\nspec: s.yaml\nroutes: {getUser: {roles: [a]}}\n", false},
		{"missing spec", "upstream: http://u\n", false},
		{"list for string", "upstream: http://u\nspec: s.yaml\nlisten: [\":80\"]\n", false},
		{"string for list", "upstream: http://u\nspec: s.yaml\ntrusted_proxies: 10.0.0.0/8\n", false},
		{"bad mode", "upstream: http://u\nspec: s.yaml\nmode: block\n", false},
		{"bad duration", "upstream: http://u\nspec: s.yaml\ntimeouts: {read: 5}\n", false},
		{"bad size", "upstream: http://u\nspec: s.yaml\nlimits: {max_body: lots}\n", false},
		{"bool as word", "upstream: http://u\nspec: s.yaml\nerrors: {expose_details: sometimes}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sch.Validate(yamlToJSON(t, []byte(tc.src)))
			if (err == nil) != tc.valid {
				t.Errorf("schema.Validate(%q) = %v, want valid=%v", tc.src, err, tc.valid)
			}
		})
	}
}

// TestSchemaCoversSections reports which sections have fields in the
// schema: the golden test above keeps it exact.
func TestSchemaCoversSections(t *testing.T) {
	var s struct {
		Properties map[string]struct {
			Ref string `json:"$ref"`
		} `json:"properties"`
		Defs map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(generate(t), &s); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"listen", "admin", "upstream", "spec", "mode", "routes", "trusted_proxies", "tls", "timeouts", "authn", "authz", "rate_limits", "request", "response"} {
		p, ok := s.Properties[key]
		if !ok {
			t.Errorf("schema has no top-level %q", key)
			continue
		}
		if p.Ref != "" {
			def := s.Defs[strings.TrimPrefix(p.Ref, "#/$defs/")]
			t.Logf("%s: %d fields", key, len(def.Properties))
		}
	}
}
