package checks

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/internal/config"
)

// TestFixSnippetsAreConfig parses every check's Fix snippet as YAML and
// walks its keys against the gateway's config structs: a key the config
// loader would reject (a made-up option, an old name) fails here, and so does
// a JWT issuer without its required algorithms allowlist.
func TestFixSnippetsAreConfig(t *testing.T) {
	root := reflect.TypeOf(config.Config{})
	for _, c := range Dynamic() {
		m := c.Meta()
		if strings.TrimSpace(m.Fix) == "" {
			continue
		}
		var doc any
		if err := yaml.Unmarshal([]byte(m.Fix), &doc); err != nil {
			t.Errorf("%s: Fix is not YAML: %v\n%s", m.ID, err, m.Fix)
			continue
		}
		if doc == nil {
			continue // a comment only
		}
		checkKeys(t, m.ID, "", root, doc)
	}
}

// TestFixSnippetCheckerCatches proves the walker rejects the old mistakes.
func TestFixSnippetCheckerCatches(t *testing.T) {
	root := reflect.TypeOf(config.Config{})
	for _, bad := range []string{
		`response: { filter: schema }`,
		`authn: { jwt: [ { issuer: x, jwks_url: y, algorithms: [RS256], require_claims: [exp] } ] }`,
		`authn: { jwt: [ { issuer: x, jwks_url: y } ] }`,
	} {
		var doc any
		if err := yaml.Unmarshal([]byte(bad), &doc); err != nil {
			t.Fatal(err)
		}
		ft := &testing.T{}
		checkKeys(ft, "bad", "", root, doc)
		if !ft.Failed() {
			t.Errorf("checker accepted %s", bad)
		}
	}
}

func checkKeys(t *testing.T, id, path string, typ reflect.Type, v any) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for _, e := range l {
				checkKeys(t, id, path+"[]", typ.Elem(), e)
			}
		}
		return
	case reflect.Map:
		if mm, ok := v.(map[string]any); ok {
			for k, e := range mm {
				checkKeys(t, id, path+"."+k, typ.Elem(), e)
			}
		}
		return
	case reflect.Struct:
	default:
		return
	}
	fields := map[string]reflect.StructField{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f
		}
	}
	mm, ok := v.(map[string]any)
	if !ok || len(fields) == 0 {
		return // a scalar type with its own decoder (Duration, ByteSize, …)
	}
	for k, e := range mm {
		f, ok := fields[k]
		if !ok {
			t.Errorf("%s: Fix key %s.%s is no config key", id, path, k)
			continue
		}
		checkKeys(t, id, path+"."+k, f.Type, e)
	}
	for name, f := range fields {
		if f.Tag.Get("required") != "true" || path == "" {
			continue // the root's required keys (upstream, spec) belong to the whole file
		}
		if _, ok := mm[name]; !ok {
			t.Errorf("%s: Fix at %s lacks required key %s", id, path, name)
		}
	}
}
