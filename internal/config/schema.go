package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SchemaID is the $id of the published schema (schema/gatehouse.schema.json).
const SchemaID = "https://raw.githubusercontent.com/gatehouse/gatehouse/main/schema/gatehouse.schema.json"

// envPattern matches a scalar that Load will expand (${NAME} or ${NAME:-x}):
// the schema accepts it wherever a scalar is expected.
const envPattern = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`

// durationPattern matches Go durations ("30s", "1m30s", "250ms") and ${ENV}.
const durationPattern = `^(([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+|0|.*` + envPattern + `.*)$`

// sizePattern matches ByteSize strings ("512", "64KiB", "1 MB") and ${ENV}.
const sizePattern = `^([0-9]+ ?(KiB|MiB|GiB|KB|MB|GB|B)?|.*` + envPattern + `.*)$`

// schemaProvider lets a config type (typically one with its own
// UnmarshalYAML) describe itself in the JSON Schema.
type schemaProvider interface{ jsonSchema() map[string]any }

// GenerateSchema returns the JSON Schema (draft 2020-12) of the config file,
// derived by reflection from the Config structs: yaml tags give the keys,
// every object has additionalProperties false (as Load rejects unknown
// keys), `required`, `enum` and `doc` tags and the Default() values are
// carried over. docs maps "Type" and "Type.Field" to descriptions (see
// ParseDocs); a `doc:"..."` tag wins over it. Null is allowed wherever Load
// accepts it (it keeps the default), and ${ENV} strings wherever a scalar is.
// The output is deterministic.
func GenerateSchema(docs map[string]string) ([]byte, error) {
	g := &schemaGen{docs: docs, defs: map[string]any{}, names: map[reflect.Type]string{}}
	root := g.structSchema(reflect.TypeFor[Config](), reflect.ValueOf(Default()).Elem())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "gatehouse gateway configuration"
	g.defs["env"] = map[string]any{
		"description": "a ${NAME} or ${NAME:-default} reference, expanded by Load",
		"type":        "string",
		"pattern":     envPattern,
	}
	root["$defs"] = g.defs
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

type schemaGen struct {
	docs  map[string]string
	defs  map[string]any
	names map[reflect.Type]string
}

var (
	configDurationType = reflect.TypeFor[Duration]()
	byteSizeType       = reflect.TypeFor[ByteSize]()
	providerType       = reflect.TypeFor[schemaProvider]()
)

// typeSchema returns the schema of a value of type t.
func (g *schemaGen) typeSchema(t reflect.Type) map[string]any {
	switch t {
	case configDurationType, durationType:
		return map[string]any{"type": []any{"string", "null"}, "pattern": durationPattern}
	case byteSizeType:
		return map[string]any{"type": []any{"integer", "string", "null"}, "minimum": 0, "pattern": sizePattern}
	}
	if reflect.PointerTo(t).Implements(providerType) {
		return reflect.New(t).Interface().(schemaProvider).jsonSchema()
	}
	if t.Kind() == reflect.Pointer {
		return g.typeSchema(t.Elem())
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) {
		return map[string]any{} // decodes itself; anything may be valid
	}
	if pt.Implements(textType) {
		return map[string]any{"type": []any{"string", "null"}}
	}
	scalar := func(typ string) map[string]any {
		return map[string]any{"type": []any{typ, "string", "null"}, "pattern": envPattern}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": []any{"string", "null"}}
	case reflect.Bool:
		return scalar("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar("integer")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := scalar("integer")
		s["minimum"] = 0
		return s
	case reflect.Float32, reflect.Float64:
		return scalar("number")
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": []any{"array", "null"}, "items": g.typeSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": g.typeSchema(t.Elem())}
	case reflect.Struct:
		return g.ref(t)
	}
	return map[string]any{}
}

// ref returns a $ref to t's definition, generating it on first use.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	if t.Name() == "" { // anonymous struct: inline
		v := reflect.New(t).Elem()
		initDefaults(v)
		return g.structSchema(t, v)
	}
	name, ok := g.names[t]
	if !ok {
		name = t.Name()
		for i := 2; g.defs[name] != nil; i++ {
			name = fmt.Sprintf("%s%d", t.Name(), i)
		}
		g.names[t] = name
		g.defs[name] = map[string]any{} // placeholder for recursive types
		v := reflect.New(t).Elem()
		initDefaults(v)
		s := g.structSchema(t, v)
		if d := g.docs[t.Name()]; d != "" {
			s["description"] = d
		}
		g.defs[name] = s
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

// structSchema describes struct type t; def holds its default values.
func (g *schemaGen) structSchema(t reflect.Type, def reflect.Value) map[string]any {
	props := map[string]any{}
	var required []string
	var add func(t reflect.Type, def reflect.Value)
	add = func(t reflect.Type, def reflect.Value) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			key, ok := yamlKey(sf)
			if !ok {
				continue
			}
			if inline(sf) && sf.Type.Kind() == reflect.Struct {
				add(sf.Type, def.Field(i))
				continue
			}
			if _, dup := props[key]; dup {
				continue
			}
			ps := g.typeSchema(sf.Type)
			if _, isRef := ps["$ref"]; isRef {
				ps = map[string]any{"$ref": ps["$ref"]}
			}
			if vals := sf.Tag.Get("enum"); vals != "" {
				var enum []any
				for _, v := range strings.Split(vals, ",") {
					enum = append(enum, strings.TrimSpace(v))
				}
				enum = append(enum, nil)
				ps = map[string]any{"anyOf": []any{
					map[string]any{"enum": enum},
					map[string]any{"$ref": "#/$defs/env"},
				}}
			}
			if d := sf.Tag.Get("doc"); d != "" {
				ps["description"] = d
			} else if d := g.docs[t.Name()+"."+sf.Name]; d != "" {
				ps["description"] = d
			}
			if sf.Tag.Get("path") == "file" {
				const note = "a relative path is resolved against the config file's directory"
				if d, _ := ps["description"].(string); d != "" {
					ps["description"] = d + " (" + note + ")"
				} else {
					ps["description"] = "A file path; " + note + "."
				}
			}
			if dv, ok := defaultJSON(def.Field(i)); ok {
				ps["default"] = dv
			}
			if sf.Tag.Get("required") == "true" {
				required = append(required, key)
			}
			props[key] = ps
		}
	}
	add(t, def)
	s := map[string]any{
		"type":                 []any{"object", "null"},
		"additionalProperties": false,
		"properties":           props,
	}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

// defaultJSON returns the JSON form of a non-zero default scalar, or list
// or map of scalars; structs are described by their own properties.
func defaultJSON(v reflect.Value) (any, bool) {
	if !v.IsValid() || v.IsZero() {
		return nil, false
	}
	switch v.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Interface:
		return nil, false
	case reflect.Slice, reflect.Array, reflect.Map:
		switch v.Type().Elem().Kind() {
		case reflect.Struct, reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			return nil, false
		}
	}
	if m, ok := v.Interface().(yaml.Marshaler); ok {
		out, err := m.MarshalYAML()
		if err != nil {
			return nil, false
		}
		return out, true
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		out, err := m.MarshalText()
		if err != nil {
			return nil, false
		}
		return string(out), true
	}
	if v.Type() == durationType {
		return v.Interface().(time.Duration).String(), true
	}
	return v.Interface(), true
}

// ParseDocs reads the Go doc comments of the struct types and fields in the
// package directory dir (non-test files) and returns them keyed "Type" and
// "Type.Field", each cut to its first paragraph and folded to one line.
// The schema test uses it so that descriptions come from the comments next
// to the fields.
func ParseDocs(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		af, err := parser.ParseFile(fset, f, src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		for _, decl := range af.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if d := fold(doc); d != "" {
					docs[ts.Name.Name] = d
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, field := range st.Fields.List {
					d := fold(field.Doc)
					if d == "" {
						d = fold(field.Comment)
					}
					if d == "" {
						continue
					}
					for _, name := range field.Names {
						docs[ts.Name.Name+"."+name.Name] = d
					}
				}
			}
		}
	}
	return docs, nil
}

func fold(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	para, _, _ := strings.Cut(cg.Text(), "\n\n") // the first paragraph
	return strings.Join(strings.Fields(para), " ")
}
