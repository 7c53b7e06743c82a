package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pathFits tells whether a problem's key path names a place the Config
// structs have: a section validator that misspells a key would otherwise
// have its problems silently reported at the parent key.
func pathFits(path string) bool {
	if path == "" {
		return true
	}
	return fits(reflect.TypeFor[Config](), path)
}

func fits(t reflect.Type, rest string) bool {
	rest = strings.TrimPrefix(rest, ".")
	if rest == "" {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshalerType) || pt.Implements(textType) || t.Kind() == reflect.Interface {
		return true // decodes itself: any sub-path may be meaningful
	}
	switch t.Kind() {
	case reflect.Struct:
		fs := fieldsOf(t)
		for key, idx := range fs.byKey {
			if !strings.HasPrefix(rest, key) {
				continue
			}
			after := rest[len(key):]
			if after != "" && after[0] != '.' && after[0] != '[' {
				continue
			}
			if fits(t.FieldByIndex(idx).Type, after) {
				return true
			}
		}
	case reflect.Map:
		for i := 1; i <= len(rest); i++ {
			if (i == len(rest) || rest[i] == '.' || rest[i] == '[') && fits(t.Elem(), rest[i:]) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		end := strings.IndexByte(rest, ']')
		if !strings.HasPrefix(rest, "[") || end < 2 || strings.Trim(rest[1:end], "0123456789") != "" {
			return false
		}
		return fits(t.Elem(), rest[end+1:])
	}
	return false
}

func TestPathFits(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"", true},
		{"upstream", true},
		{"timeouts.read", true},
		{"routes.getUser.mode", true},
		{"routes.GET /users/{id}.json.mode", true},
		{"trusted_proxies[3]", true},
		{"cors.allow_origins[0]", true},
		{"upstreams", false},
		{"timeouts.raed", false},
		{"tls.cert_file.x", false},
		{"routes.getUser.roles", true}, // map keys may contain dots: "getUser.roles" is a key
		{"trusted_proxies.0", false},
		{"trusted_proxies[x]", false},
		{"listen.port", false},
	} {
		if got := pathFits(tc.path); got != tc.want {
			t.Errorf("pathFits(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestProblemPathsFit runs every fixture and example and checks that each
// reported problem names a real key path (unknown-key errors excepted:
// they name the unknown key on purpose).
func TestProblemPathsFit(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, exampleConfigs(t)...)
	for _, f := range files {
		_, err := Check(f)
		ve, ok := err.(*ValidationError)
		if !ok {
			continue
		}
		for _, p := range ve.Problems {
			if strings.HasPrefix(p.Msg, "unknown key") || strings.HasPrefix(p.Msg, "duplicate key") || p.Path == "" {
				continue
			}
			if !pathFits(p.Path) {
				t.Errorf("%s: problem %q has key path %q that is not in the config structs", f, p.Msg, p.Path)
			}
		}
	}
}
