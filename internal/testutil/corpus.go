package testutil

// Corpora for measuring detection and false positives, shared by the
// inspect (libinjection) and waf (Coraza + CRS) measurements so both read the
// same inputs the same way and their rates compare line for line.

import (
	"bufio"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// RepoRoot walks up from the package directory to the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// ReadLines returns the non-empty lines of a file (CR stripped).
func ReadLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// PayloadDir returns a folder of the PayloadsAllTheThings lists copied into
// the repository (testdata/payloads/payloadsallthethings, MIT, see its
// README), e.g. PayloadDir(t, "SQL Injection", "Intruder"). It skips the
// test, naming the folder, when it is absent.
func PayloadDir(t testing.TB, elem ...string) string {
	t.Helper()
	dir := filepath.Join(append([]string{RepoRoot(t), "testdata", "payloads", "payloadsallthethings"}, elem...)...)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("payload lists absent (%s): detection rates not measured", dir)
	}
	return dir
}

// PayloadFamilies reads testdata/payloads/payloadsallthethings: one family
// per top-level folder, every non-empty line a payload. It skips the test
// when the lists are absent.
func PayloadFamilies(t testing.TB) map[string][]string {
	root := PayloadDir(t)
	fams := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LICENSE" {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fam := strings.Split(rel, string(filepath.Separator))[0]
		fams[fam] = append(fams[fam], ReadLines(t, p)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// SpecProse returns every distinct description and summary string of the
// documents under ../shared/specs (nil when absent): benign text nobody here wrote.
func SpecProse(t testing.TB) []string {
	root := filepath.Join(RepoRoot(t), "..", "shared", "specs")
	if _, err := os.Stat(root); err != nil {
		t.Logf("specs absent (%s): benign corpus is testdata only", root)
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if (k.Value == "description" || k.Value == "summary") && v.Kind == yaml.ScalarNode {
					if s := strings.TrimSpace(v.Value); s != "" && !seen[s] {
						seen[s] = true
						out = append(out, s)
					}
					continue
				}
				walk(v)
			}
		}
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var n yaml.Node
		if yaml.Unmarshal(b, &n) == nil {
			walk(&n)
		}
		return nil
	})
	return out
}

// BenignProse returns the prose, country and place-name lines of
// inspect/testdata/benign (names with apostrophes, accents, punctuation).
func BenignProse(t testing.TB) []string {
	var out []string
	dir := filepath.Join(RepoRoot(t), "inspect", "testdata", "benign")
	for _, f := range []string{"newton-opticks-excerpt.txt", "iso3166.tab", "zone1970.tab"} {
		for _, l := range ReadLines(t, filepath.Join(dir, f)) {
			if !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
	}
	return out
}

// QueryDecoded returns the payloads as a server sees them after decoding a
// query parameter once (the Intruder lists are written to be sent in URLs).
func QueryDecoded(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = s
		if d, err := url.QueryUnescape(s); err == nil {
			out[i] = d
		}
	}
	return out
}

// SpecIdentifiers returns every distinct short string (at most 64 bytes) the
// documents under ../shared/specs use as a value rather than prose:
// operationId, enum members, example/default values and path template
// segments (nil when absent). They are the benign corpus for values a spec
// declares as identifiers: slugs, names, IDs, tokens.
func SpecIdentifiers(t testing.TB) []string {
	root := filepath.Join(RepoRoot(t), "..", "shared", "specs")
	if _, err := os.Stat(root); err != nil {
		t.Logf("specs absent (%s): no spec identifiers", root)
		return nil
	}
	seen := map[string]bool{}
	var out []string
	keep := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && len(s) <= 64 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, "")
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if key == "enum" && c.Kind == yaml.ScalarNode && c.Tag == "!!str" {
					keep(c.Value)
					continue
				}
				walk(c, "")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if key == "paths" {
					for _, seg := range strings.Split(k.Value, "/") {
						if !strings.Contains(seg, "{") {
							keep(seg)
						}
					}
				}
				switch k.Value {
				case "description", "summary":
					continue
				case "operationId", "example", "default":
					if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
						keep(v.Value)
						continue
					}
				}
				walk(v, k.Value)
			}
		}
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var n yaml.Node
		if yaml.Unmarshal(b, &n) == nil {
			walk(&n, "")
		}
		return nil
	})
	return out
}
