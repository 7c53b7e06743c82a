package inspect

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(t testing.TB) string {
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

func readLines(t testing.TB, path string) []string {
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

// payloadFamilies reads ../shared/payloads/payloadsallthethings: one family
// per top-level folder, every non-empty line of every list a payload.
func payloadFamilies(t testing.TB) map[string][]string {
	root := filepath.Join(repoRoot(t), "..", "shared", "payloads", "payloadsallthethings")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("payload lists absent (%s): detection rates not measured", root)
	}
	fams := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LICENSE" {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fam := strings.Split(rel, string(filepath.Separator))[0]
		fams[fam] = append(fams[fam], readLines(t, p)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// specProse returns every description and summary string of the shared
// real-world specs (plain YAML walk, every file).
func specProse(t testing.TB) []string {
	root := filepath.Join(repoRoot(t), "..", "shared", "specs")
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

func benignTestdata(t testing.TB) []string {
	var out []string
	for _, f := range []string{"newton-opticks-excerpt.txt", "iso3166.tab", "zone1970.tab"} {
		for _, l := range readLines(t, filepath.Join("testdata", "benign", f)) {
			if !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
	}
	return out
}

// queryDecoded returns the payloads as a server sees them after decoding a
// query parameter once (Intruder lists are written to be sent in URLs).
func queryDecoded(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = s
		if d, err := url.QueryUnescape(s); err == nil {
			out[i] = d
		}
	}
	return out
}

func rate(c Checks, in []string) (hits int, pct float64, examples []string) {
	for _, s := range in {
		if _, ok := c.String(s); ok {
			hits++
			if len(examples) < 5 {
				examples = append(examples, s)
			}
		}
	}
	if len(in) == 0 {
		return 0, 0, nil
	}
	return hits, 100 * float64(hits) / float64(len(in)), examples
}

// TestDetectionRates measures detection per payload family on the
// third-party PayloadsAllTheThings lists and the false-positive rate on
// benign prose nobody here wrote, prints both, and fails below the floors
// measured when this test was written (regressions fail).
func TestDetectionRates(t *testing.T) {
	fams := payloadFamilies(t)
	shell := Default
	shell.Shell = true
	trav := Default
	trav.Traversal = true
	type floor struct {
		checks Checks
		label  string
		min    float64
	}
	floors := map[string][]floor{
		"SQL Injection":       {{Default, "default", 67}},
		"XSS Injection":       {{Default, "default", 63}},
		"NoSQL Injection":     {{Default, "default", 95}},
		"Command Injection":   {{Default, "default", 0}, {shell, "+shell (marked fields)", 86}},
		"Directory Traversal": {{Default, "default", 0}, {trav, "+traversal (marked fields)", 95}},
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-22s %-28s %8s %8s %8s\n", "family", "checks", "payloads", "detected", "rate")
	for _, n := range names {
		for _, f := range floors[n] {
			hits, pct, _ := rate(f.checks, fams[n])
			dhits, dpct, _ := rate(f.checks, queryDecoded(fams[n]))
			fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.1f%%   as query value: %5d %6.1f%%\n", n, f.label, len(fams[n]), hits, pct, dhits, dpct)
			if pct < f.min {
				t.Errorf("%s with %s: detection %.1f%% below floor %.0f%%", n, f.label, pct, f.min)
			}
		}
	}
	benign := map[string][]string{"spec descriptions": specProse(t), "testdata prose/places": benignTestdata(t)}
	fpCeil := map[string]float64{"spec descriptions": 0.2, "testdata prose/places": 0.1}
	for _, n := range []string{"spec descriptions", "testdata prose/places"} {
		in := benign[n]
		if len(in) == 0 {
			continue
		}
		hits, pct, ex := rate(Default, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%  (false positives)\n", n, "default", len(in), hits, pct)
		for _, e := range ex {
			if len(e) > 100 {
				e = e[:100] + "..."
			}
			fmt.Fprintf(&report, "    FP example: %q\n", e)
		}
		if pct > fpCeil[n] {
			t.Errorf("%s: false-positive rate %.2f%% above ceiling %.2f%%", n, pct, fpCeil[n])
		}
		sh, shp, _ := rate(shell, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%  (why shell is opt-in)\n", n, "+shell", len(in), sh, shp)
		tr, trp, _ := rate(trav, in)
		fmt.Fprintf(&report, "%-22s %-28s %8d %8d %7.2f%%\n", n, "+traversal", len(in), tr, trp)
	}
	t.Log(report.String())
}
