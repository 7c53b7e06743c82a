package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/*.golden and schema/gatehouse.schema.json)")

func TestGoodConfigs(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_LISTEN", "")
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.good.yaml: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Check(f)
			if err != nil {
				t.Fatalf("Check(%q) = %v, want nil", f, err)
			}
			if c.File != f {
				t.Errorf("File = %q, want %q", c.File, f)
			}
			if want := filepath.Join("testdata", "openapi.yaml"); c.Spec != want {
				t.Errorf("Spec = %q, want %q (resolved against the config's directory)", c.Spec, want)
			}
		})
	}
}

// badConfigs lists every testdata/*.bad.yaml with the exact errors expected
// (substrings, each starting with FILE:LINE:COL). TestBadConfigs fails when
// a bad file is missing from this table, or reports another error.
var badConfigs = map[string][]string{
	"unknown_top.bad.yaml": {
		`unknown_top.bad.yaml:1:1: spec: spec is required`,
		`unknown_top.bad.yaml:3:1: spek: unknown key "spek" (did you mean "spec"?)`,
	},
	"unknown_nested.bad.yaml": {
		`unknown_nested.bad.yaml:5:3: timeouts.raed_header: unknown key "raed_header" (did you mean "read_header"?)`,
		`unknown_nested.bad.yaml:7:29: routes.getUser.roles: unknown key "roles" (known keys: constraints, deny, mask, mode)`,
	},
	"wrong_type.bad.yaml": {
		`wrong_type.bad.yaml:3:9: listen: expected a string, got a list`,
		`wrong_type.bad.yaml:4:18: trusted_proxies: expected a list, got the string "10.0.0.0/8"`,
		`wrong_type.bad.yaml:5:11: timeouts: expected a mapping (key: value), got the string "30s"`,
		`wrong_type.bad.yaml:7:13: limits.max_body: invalid size "lots"`,
		`wrong_type.bad.yaml:9:19: errors.expose_details: expected true or false, got the string "sometimes"`,
	},
	"two_mistakes.bad.yaml": {
		`two_mistakes.bad.yaml:4:11: upstream: upstream "127.0.0.1:5000" is not a URL`,
		`two_mistakes.bad.yaml:5:7: mode: mode must be enforce or monitor, not "block"`,
	},
	"mode.bad.yaml": {
		`mode.bad.yaml:3:7: mode: mode must be enforce or monitor, not "Enforce"`,
		`mode.bad.yaml:6:11: routes.getUser.mode: mode must be enforce or monitor, not "off"`,
		`mode.bad.yaml:7:22: routes.get /users/{id}: route key "get /users/{id}" must be an operationId or "METHOD /template"`,
	},
	"upstream.bad.yaml": {
		`upstream.bad.yaml:1:11: upstream: upstream URL must not carry credentials`,
	},
	"upstream_relative.bad.yaml": {
		`upstream_relative.bad.yaml:1:11: upstream: upstream "/api" must be an absolute http:// or https:// URL`,
	},
	"missing_spec.bad.yaml": {
		`missing_spec.bad.yaml:1:1: spec: spec is required`,
	},
	"spec_relative.bad.yaml": {
		`spec_relative.bad.yaml:3:7: spec: spec file "` + filepath.Join("testdata", "no-such-spec.yaml") + `": no such file or directory`,
	},
	"env_unset.bad.yaml": {
		`env_unset.bad.yaml:1:11: upstream: environment variable GATEHOUSE_TEST_SURELY_UNSET is not set`,
		`env_unset.bad.yaml:3:8: admin: environment variable GATEHOUSE_TEST_SURELY_UNSET_PORT is not set`,
		`env_unset.bad.yaml:4:9: listen: invalid environment variable reference ${not a name}`,
	},
	"cidr.bad.yaml": {
		`cidr.bad.yaml:5:5: trusted_proxies[1]: trusted proxy "10.0.0.0/33" is not a valid CIDR`,
		`cidr.bad.yaml:6:5: trusted_proxies[2]: trusted proxy "not-an-ip" is not an IP or CIDR`,
		`cidr.bad.yaml:7:5: trusted_proxies[3]: trusted proxy "10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?`,
	},
	"syntax.bad.yaml": {
		`syntax.bad.yaml:5:2: yaml syntax: `,
	},
	"duplicate.bad.yaml": {
		`duplicate.bad.yaml:4:1: mode: duplicate key "mode" (first at line 3)`,
	},
	"two_docs.bad.yaml": {
		`two_docs.bad.yaml:3:1: a config file holds one YAML document`,
	},
	"alias_cycle.bad.yaml": {
		`alias_cycle.bad.yaml:4:7: routes: alias *r refers to a node that contains it`,
	},
	"nonstring.bad.yaml": {
		`nonstring.bad.yaml:4:3: routes: mapping keys must be strings, got a list`,
		`nonstring.bad.yaml:5:20: routes.getUser.mode: expected a string, got a list`,
	},
	"sections.bad.yaml": {
		`sections.bad.yaml:3:8: admin: admin must not share the public listener ":8080"`,
		// A missing key is reported at its parent key.
		`sections.bad.yaml:4:1: tls.key_file: key_file is required when cert_file is set`,
		`sections.bad.yaml:7:19: cors.allow_origins[0]: "*" together with allow_credentials`,
	},
	"listen.bad.yaml": {
		`listen.bad.yaml:3:9: listen: address "8080": want host:port or :port`,
		`listen.bad.yaml:4:8: admin: address "127.0.0.1:99999": port must be a number from 0 to 65535`,
	},
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.bad.yaml: %v", err)
	}
	for _, f := range files {
		if _, ok := badConfigs[filepath.Base(f)]; !ok {
			t.Errorf("%s has no entry in badConfigs", f)
		}
	}
	for name, wants := range badConfigs {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join("testdata", name)
			c, err := Check(f)
			if err == nil {
				t.Fatalf("Check(%q) = nil error, want %d errors", f, len(wants))
			}
			if c != nil {
				t.Errorf("Check(%q) returned a config with an error", f)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Check(%q) error %T, want *ValidationError", f, err)
			}
			got := ve.Errors()
			for _, p := range got {
				if p.File != f || p.Line < 1 || p.Col < 1 {
					t.Errorf("problem %+v: want file %q and a line and column", p, f)
				}
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), "testdata/"+w) {
					t.Errorf("Check(%q) =\n%v\nwant a line containing\n%s", f, err, w)
				}
			}
			if len(got) != len(wants) {
				t.Errorf("Check(%q) reported %d errors, want %d:\n%v", f, len(got), len(wants), err)
			}
		})
	}
}

// TestValidateGolden compares the full report of some bad configs (what
// `gatehouse validate` prints) with testdata/*.golden; -update rewrites.
func TestValidateGolden(t *testing.T) {
	for _, name := range []string{"two_mistakes", "unknown_nested", "cidr"} {
		t.Run(name, func(t *testing.T) {
			_, err := Check(filepath.Join("testdata", name+".bad.yaml"))
			if err == nil {
				t.Fatal("want problems")
			}
			got := err.Error() + "\n"
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/config -update)", err)
			}
			if got != string(want) {
				t.Errorf("report differs from %s (if intended: go test ./internal/config -update)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestWarningsDoNotFail(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "openapi.yaml", "openapi: 3.1.0\n")
	f := writeFile(t, dir, "gatehouse.yaml", `upstream: http://127.0.0.1:5000
spec: openapi.yaml
mode: monitor
trusted_proxies: ["::/0"]
admin: "0.0.0.0:9090"
admin_auth: {token_env: GATEHOUSE_ADMIN_TOKEN}
`)
	c, err := Check(f)
	if err != nil {
		t.Fatalf("Check = %v, want nil (warnings only)", err)
	}
	var got []string
	for _, w := range c.Warnings() {
		got = append(got, w.String())
	}
	want := []string{
		f + `:3:7: warning: mode: mode is monitor`,
		f + `:4:19: warning: trusted_proxies[0]: "::/0" trusts X-Forwarded-For from every client`,
		f + `:5:8: warning: admin: admin listener "0.0.0.0:9090" is not loopback-only`,
	}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings:\n%s\nwant one containing %s", joined, w)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Check("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Mode != ModeEnforce || c.Admin != "" {
		t.Errorf("top-level defaults: listen %q mode %q admin %q", c.Listen, c.Mode, c.Admin)
	}
	d := Default()
	// Every section's setDefaults ran: Load must equal Default plus the file's keys.
	d.Upstream, d.Spec, d.File = c.Upstream, c.Spec, c.File
	d.pos, d.warnings = c.pos, c.warnings
	if !reflect.DeepEqual(c, d) {
		t.Errorf("loaded minimal config differs from Default():\n%+v\n%+v", c, d)
	}
	if c.Timeouts.ReadHeader.D() != 5*time.Second {
		t.Errorf("timeouts.read_header = %v, want the section default 5s", c.Timeouts.ReadHeader)
	}
}

func TestPartialSectionKeepsDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "openapi.yaml", "openapi: 3.1.0\n")
	f := writeFile(t, dir, "g.yaml", "upstream: http://u\nspec: openapi.yaml\ntimeouts:\n  read: 7s\nlimits: ~\nlog:\n")
	c, err := Check(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeouts.Read.D() != 7*time.Second || c.Timeouts.ReadHeader.D() != 5*time.Second {
		t.Errorf("timeouts = %+v, want read 7s and read_header still 5s", c.Timeouts)
	}
	if c.Limits.MaxBody != 1<<20 || c.Log.Level != "info" {
		t.Errorf("null sections must keep defaults: limits %+v log %+v", c.Limits, c.Log)
	}
}

func TestPathResolution(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "api.yaml", "openapi: 3.1.0\n")
	abs := filepath.Join(dir, "abs.pem")
	f := writeFile(t, sub, "gatehouse.yaml", fmt.Sprintf(`upstream: http://127.0.0.1:1
spec: ../api.yaml
tls:
  cert_file: certs/server.pem
  key_file: %q
`, abs))
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"spec", c.Spec, filepath.Join(dir, "api.yaml")},
		{"tls.cert_file", c.TLS.CertFile, filepath.Join(sub, "certs", "server.pem")},
		{"tls.key_file (absolute, unchanged)", c.TLS.KeyFile, abs},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	// The `path:"file"` tag works at any depth, in lists and map values.
	type item struct {
		File  string   `yaml:"file" path:"file"`
		Files []string `yaml:"files" path:"file"`
		URL   string   `yaml:"url" path:"file"`
		Other string   `yaml:"other"`
	}
	type tree struct {
		One  item            `yaml:"one"`
		List []item          `yaml:"list"`
		Map  map[string]item `yaml:"map"`
		Ptr  *item           `yaml:"ptr"`
	}
	v := tree{
		One:  item{File: "a", Files: []string{"b", "/c"}, URL: "https://x/y", Other: "o"},
		List: []item{{File: "d"}},
		Map:  map[string]item{"k": {File: "e"}},
		Ptr:  &item{File: "../f"},
	}
	resolveTagged(reflect.ValueOf(&v).Elem(), "base")
	want := tree{
		One:  item{File: "base/a", Files: []string{"base/b", "/c"}, URL: "https://x/y", Other: "o"},
		List: []item{{File: "base/d"}},
		Map:  map[string]item{"k": {File: "base/e"}},
		Ptr:  &item{File: "f"},
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("resolveTagged =\n%+v\nwant\n%+v", v, want)
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"HOST": "db", "EMPTY": "", "TRICK": "${HOST}", "PORT": "5432"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${HOST}", want: "db"},
		{in: "${HOST}:${PORT}", want: "db:5432"},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${HOST:-x}", want: "db"},
		{in: "${UNSET:-a:-b}", want: "a:-b"},
		{in: "${UNSET:-}", want: ""},
		{in: "$HOST and $(HOST) and $", want: "$HOST and $(HOST) and $"}, // no bare $VAR expansion
		{in: "$${HOST}", want: "${HOST}"},                                // escape
		{in: "${TRICK}", want: "${HOST}"},                                // values are not expanded again
		{in: "${UNSET}", err: "environment variable UNSET is not set"},
		{in: "x${HOST", err: `unclosed "${"`},
		{in: "${}", err: "invalid environment variable reference"},
		{in: "${1X}", err: "invalid environment variable reference"},
		{in: "${A-B}", err: "invalid environment variable reference"},
		{in: "${HOST:=x}", err: "invalid environment variable reference"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, _, err := expandEnv(tc.in, lookup)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("expandEnv(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("expandEnv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// decodeInto runs the strict decoder over src into v (a pointer) and
// returns the problems, formatted.
func decodeInto(t *testing.T, src string, v any, env map[string]string) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml %q: %v", src, err)
	}
	lookup := func(k string) (string, bool) { s, ok := env[k]; return s, ok }
	d := &decoder{file: "x.yaml", lookup: lookup, pos: map[string]position{}, budget: maxNodes, active: map[*yaml.Node]bool{}}
	d.decode(doc.Content[0], reflect.ValueOf(v).Elem(), "")
	var out []string
	for _, p := range d.probs {
		out = append(out, p.String())
	}
	return out
}

type decItem struct {
	Name  string        `yaml:"name"`
	Port  int           `yaml:"port"`
	On    bool          `yaml:"on"`
	Wait  time.Duration `yaml:"wait"`
	Ratio float64       `yaml:"ratio"`
	Count uint          `yaml:"count"`
	dflt  bool
}

func (i *decItem) setDefaults() { i.Port, i.dflt = 80, true }

type decEmbedded struct {
	Extra string `yaml:"extra"`
}

type decRoot struct {
	decEmbedded `yaml:",inline"`
	Items       []decItem          `yaml:"items"`
	ByName      map[string]decItem `yaml:"by_name"`
	Ptr         *decItem           `yaml:"ptr"`
	Any         any                `yaml:"any"`
	Size        ByteSize           `yaml:"size"`
	Untagged    string
	Hidden      string `yaml:"-"`
}

func TestDecoderTypes(t *testing.T) {
	var v decRoot
	probs := decodeInto(t, `extra: e
items:
  - { name: a, port: 81, on: true, wait: 2s, ratio: 0.5, count: 3 }
  - { name: b }
  - ~
by_name:
  x: { port: "${PORT}" }
ptr: { name: p }
any: { deep: [1, 2] }
size: ${SIZE}
untagged: u
`, &v, map[string]string{"PORT": "8443", "SIZE": "2KiB"})
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	want := decRoot{
		decEmbedded: decEmbedded{Extra: "e"},
		Items: []decItem{
			{Name: "a", Port: 81, On: true, Wait: 2 * time.Second, Ratio: 0.5, Count: 3, dflt: true},
			{Name: "b", Port: 80, dflt: true},
			{Port: 80, dflt: true},
		},
		ByName:   map[string]decItem{"x": {Port: 8443, dflt: true}},
		Ptr:      &decItem{Name: "p", Port: 80, dflt: true},
		Any:      map[string]any{"deep": []any{1, 2}},
		Size:     2048,
		Untagged: "u",
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", v, want)
	}
}

func TestDecoderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown in list item", "items:\n  - { name: a, nmae: b }\n",
			[]string{`x.yaml:2:16: items[0].nmae: unknown key "nmae" (did you mean "name"?)`}},
		{"unknown in map value", "by_name:\n  k:\n    prot: 1\n",
			[]string{`x.yaml:3:5: by_name.k.prot: unknown key "prot" (did you mean "port"?)`}},
		{"hidden field is unknown", "hidden: x\n", []string{`x.yaml:1:1: hidden: unknown key "hidden"`}},
		{"int", "items: [{port: eighty}]\n", []string{`x.yaml:1:16: items[0].port: expected an integer, got the string "eighty"`}},
		{"int overflow", "items: [{port: 99999999999999999999}]\n", []string{`items[0].port: expected an integer, got the number 99999999999999999999`}},
		{"quoted int stays a string", "items: [{port: \"80\"}]\n", []string{`items[0].port: expected an integer, got the string "80"`}},
		{"uint negative", "items: [{count: -1}]\n", []string{`items[0].count: expected a non-negative integer, got the number -1`}},
		{"duration", "items: [{wait: 5}]\n", []string{`items[0].wait: expected a duration like "30s", got the number 5`}},
		{"bool", "items: [{on: maybe}]\n", []string{`items[0].on: expected true or false, got the string "maybe"`}},
		{"size from env", "size: ${SIZE}\n", []string{`x.yaml:1:7: size: invalid size "huge"`, `(from "${SIZE}")`}},
		{"list for scalar", "extra: [a]\n", []string{`x.yaml:1:8: extra: expected a string, got a list`}},
		{"mapping for list", "items: {a: b}\n", []string{`x.yaml:1:8: items: expected a list, got a mapping`}},
		{"merge of scalar", "ptr:\n  <<: 3\n", []string{`x.yaml:2:7: ptr: merge key << wants a mapping or a list of mappings`}},
		{"custom tag", "extra: !vault secret/db\n", []string{`x.yaml:1:8: extra: YAML tag !vault is not supported`}},
		{"custom tag on mapping", "ptr: !thing {name: a}\n", []string{`x.yaml:1:6: ptr: YAML tag !thing is not supported`}},
		{"duplicate in map", "by_name:\n  a: {}\n  a: {}\n", []string{`x.yaml:3:3: by_name.a: duplicate key "a" (first at line 2)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v decRoot
			got := strings.Join(decodeInto(t, tc.src, &v, map[string]string{"SIZE": "huge"}), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("decode(%q) problems:\n%s\nwant one containing %s", tc.src, got, w)
				}
			}
		})
	}
}

// An environment value that fails to decode must not be echoed: it may be a secret.
func TestEnvValueNotEchoed(t *testing.T) {
	var v decRoot
	got := strings.Join(decodeInto(t, "items: [{port: \"${SECRET}\"}]\n", &v, map[string]string{"SECRET": "hunter2-s3cr3t"}), "\n")
	if got == "" || strings.Contains(got, "hunter2") {
		t.Fatalf("problems %q: want an error that does not contain the variable's value", got)
	}
	if !strings.Contains(got, `the value of "${SECRET}"`) {
		t.Errorf("problems %q: want the ${SECRET} reference named", got)
	}
}

func TestMergeKeys(t *testing.T) {
	var v decRoot
	probs := decodeInto(t, `items:
  - &b { name: base, port: 1 }
  - &m { port: 2, on: true }
  - { <<: [*b, *m], name: own }
`, &v, nil)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	// Explicit keys win; among merged mappings the first wins.
	if got := v.Items[2]; got.Name != "own" || got.Port != 1 || !got.On {
		t.Errorf("merged item = %+v, want name own, port 1 (first merge wins), on true", got)
	}
}

// An alias bomb must hit the node budget quickly instead of expanding.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("upstream: http://u\nspec: s\nroutes:\n  a0: &a0 {mode: monitor}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d {<<: [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	start := time.Now()
	c, err := parse([]byte(b.String()), "bomb.yaml", func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("parse(bomb) = %v, want a document too large error", err)
	}
	_ = c
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("parse(bomb) took %v", d)
	}
}

func TestPosition(t *testing.T) {
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		line, col int
	}{
		{"upstream", 5, 11},
		{"routes.getUser.mode", 9, 20},
		{"routes.GET /users/{id}.mode", 10, 30},
		{"trusted_proxies[1]", 11, 33},
		{"timeouts.read", 14, 9},
		{"timeouts.write", 12, 1},         // missing: its parent key
		{"routes.getUser.roles[0]", 9, 3}, // missing: the nearest existing parent key
		{"authn.jwt[0].issuer", 1, 1},     // no parent in the file
		{"", 1, 1},
	} {
		line, col := c.Position(tc.path)
		if line != tc.line || col != tc.col {
			t.Errorf("Position(%q) = %d:%d, want %d:%d", tc.path, line, col, tc.line, tc.col)
		}
	}
}

func TestLocate(t *testing.T) {
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Locate(nil) != nil {
		t.Error("Locate(nil) != nil")
	}
	var p Problems
	p.Errorf("cors.allow_origins[0]", "bad origin")
	err = errors.Join(
		fmt.Errorf("build authz: %w", AtPath("routes.getUser", errors.New("no such operation"))),
		AtPath("spec", errors.New("cannot parse")),
		&ValidationError{Problems: p.List},
		errors.New("something global"),
	)
	got := c.Locate(err).Error()
	f := "testdata/full.good.yaml"
	want := strings.Join([]string{
		f + ":1:1: something global",
		f + ":5:11: spec: cannot parse",
		f + ":9:12: routes.getUser: build authz: no such operation",
		f + ":22:19: cors.allow_origins[0]: bad origin",
	}, "\n")
	// The spec line is 6 in full.good.yaml; compute rather than hard-code.
	line, col := c.Position("spec")
	want = strings.Replace(want, ":5:11: spec:", fmt.Sprintf(":%d:%d: spec:", line, col), 1)
	if got != want {
		t.Errorf("Locate =\n%s\nwant\n%s", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
	// An empty file loads (defaults) and Validate reports what is missing.
	f := writeFile(t, t.TempDir(), "empty.yaml", "# nothing\n")
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	verr := c.Validate()
	if verr == nil || !strings.Contains(verr.Error(), f+":1:1: spec: spec is required") ||
		!strings.Contains(verr.Error(), f+":1:1: upstream: upstream is required") {
		t.Errorf("Validate(empty) = %v", verr)
	}
	// A load error returns no config.
	c, err = Load("testdata/two_mistakes.bad.yaml")
	if err != nil || c == nil {
		t.Errorf("Load(two_mistakes) = %v, %v; decode is fine, only Validate fails", c, err)
	}
	c, err = Load("testdata/wrong_type.bad.yaml")
	if err == nil || c != nil {
		t.Errorf("Load(wrong_type) = %v, %v; want nil config and an error", c, err)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "g.yaml", Line: 3, Col: 5, Path: "a.b", Msg: "bad"}, "g.yaml:3:5: a.b: bad"},
		{Problem{File: "g.yaml", Line: 3, Col: 5, Path: "a.b", Msg: "meh", Warning: true}, "g.yaml:3:5: warning: a.b: meh"},
		{Problem{File: "g.yaml", Line: 1, Col: 1, Msg: "whole file"}, "g.yaml:1:1: whole file"},
		{Problem{File: "g.yaml", Line: 2, Col: 3, Path: "x", Msg: "two\nlines"}, "g.yaml:2:3: x: two\n\tlines"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	ve := &ValidationError{Problems: []Problem{{Warning: true, Line: 1}, {Line: 9}, {Line: 2}}}
	sortProblems(ve.Problems)
	if ve.Problems[0].Line != 2 || ve.Problems[1].Line != 9 || !ve.Problems[2].Warning {
		t.Errorf("sort = %+v, want errors by line, then warnings", ve.Problems)
	}
	if len(ve.Errors()) != 2 || len(ve.Warnings()) != 1 {
		t.Errorf("Errors/Warnings split wrong")
	}
}

// TestSectionsHooked proves that every section's setDefaults and validate
// are reached through the reflection in Default and Validate.
func TestSectionsHooked(t *testing.T) {
	c := Default()
	var hooked []string
	forEachSection(c, func(key string, v reflect.Value) {
		_, d := v.Addr().Interface().(defaulter)
		_, val := v.Addr().Interface().(validator)
		if d && val {
			hooked = append(hooked, key)
		} else {
			t.Logf("section %s: setDefaults %v, validate %v", key, d, val)
		}
	})
	for _, want := range []string{"authn", "authz", "rate_limits", "request", "response", "tls", "timeouts", "limits", "errors", "headers", "cors", "log"} {
		found := false
		for _, h := range hooked {
			found = found || h == want
		}
		if !found {
			t.Errorf("section %q lacks setDefaults() or validate(*Problems, string): the loader would skip it", want)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func BenchmarkCheck(b *testing.B) {
	for _, f := range []string{"testdata/minimal.good.yaml", "testdata/full.good.yaml"} {
		b.Run(filepath.Base(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Check(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGenerateSchema(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GenerateSchema(nil); err != nil {
			b.Fatal(err)
		}
	}
}
