package gatehouse_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type pkgInfo struct {
	path, dir, doc string
	deps           []string
}

// listPackages asks the go command about every package of the module.
func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{.Doc}}\t{{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	var pkgs []pkgInfo
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 4)
		if len(f) < 4 {
			continue
		}
		pkgs = append(pkgs, pkgInfo{path: f[0], dir: f[1], doc: f[2], deps: strings.Fields(f[3])})
	}
	return pkgs
}

const module = "github.com/gatehouse/gatehouse"

// redisAllowed are the only public packages that may depend on go-redis, so
// that importing the library for in-memory use never pulls in a Redis client.
var redisAllowed = map[string]bool{
	module + "/redislimit":                  true,
	module + "/authn/revocation/redisstore": true,
}

// public reports whether an import path is part of the library surface.
func public(path string) bool {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	return !strings.HasPrefix(rel, "internal") && !strings.HasPrefix(rel, "cmd") &&
		!strings.HasPrefix(rel, "examples") && !strings.HasPrefix(rel, "bench")
}

// TestDeps enforces the layering rules of STYLE.md: public packages never
// import internal/ (directly or not), only the Redis store packages import go-redis, and
// only waf imports Coraza (the CRS engine adds ~20 MiB and seconds of build;
// a user of the other middleware must not pay for it).
func TestDeps(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, d := range p.deps {
			// Go would let a public package import internal/ (same module), but
			// a user of the library could then not name the types it exposes.
			if public(p.path) && strings.HasPrefix(d, module+"/internal/") {
				t.Errorf("public package %s imports %s; public packages never depend on internal/", p.path, d)
			}
			if strings.HasPrefix(d, "github.com/redis/go-redis") && public(p.path) && !redisAllowed[p.path] {
				t.Errorf("public package %s imports go-redis; only redislimit and authn/revocation/redisstore may", p.path)
			}
			if strings.HasPrefix(d, "github.com/corazawaf/coraza") && public(p.path) && p.path != module+"/waf" {
				t.Errorf("public package %s imports Coraza; only waf may", p.path)
			}
		}
	}
}

var exampleFunc = regexp.MustCompile(`(?m)^func Example`)

// TestPublicPackagesDocumented: every public package has a package doc and
// at least one Example.
func TestPublicPackagesDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if !public(p.path) || p.path == module {
			continue
		}
		if p.doc == "" {
			t.Errorf("public package %s has no package doc", p.path)
		}
		files, _ := filepath.Glob(filepath.Join(p.dir, "*_test.go"))
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil && exampleFunc.Match(b) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("public package %s has no Example test", p.path)
		}
	}
}

// modelFree are packages that use the spec model (openapi.Spec, Operation,
// scan.Target) without walking libopenapi's model. The compiler
// re-instantiates libopenapi's generic ordered maps (~10,000 functions,
// 35-55 MB of archive, 10-15 CPU-seconds per build variant) in every
// package that reads a type whose fields or method signatures reach them
// (golang/go#56718): they must stay out of those types' fields and methods,
// behind functions such as openapi.Model and openapi.Op.
var modelFree = []string{"scan/checks", "scan/report", "internal/demo", "cmd/gatehouse", "bench/specload"}

// TestModelFreePackagesCompileNoLibopenapiGenerics builds each modelFree
// package's archive (the build cache has it after the test build) and
// counts libopenapi's ordered-map symbols in it: zero, or a field or method
// naming a libopenapi type has crept into openapi.Spec, openapi.Operation,
// scan.Target or a type they hold.
func TestModelFreePackagesCompileNoLibopenapiGenerics(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds package archives")
	}
	args := []string{"list", "-export", "-f", "{{.ImportPath}}\t{{.Export}}"}
	for _, rel := range modelFree {
		args = append(args, "./"+rel)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rel, archive, _ := strings.Cut(line, "\t")
		rel = strings.TrimPrefix(rel, module+"/")
		syms, err := exec.Command("go", "tool", "nm", archive).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", archive, err)
		}
		n := strings.Count(string(syms), "pb33f/libopenapi/orderedmap")
		if n != 0 {
			t.Errorf("%s compiles %d symbols of libopenapi's ordered maps: a type it uses names a libopenapi type in a field or method signature (make it a function, see openapi.Model)", rel, n)
		}
	}
}
