package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic (a
// recovered panic shows up as an "internal error" problem and fails too),
// never hang on aliases, and every problem it reports must carry a file,
// line and column. Validate then runs on whatever decoded.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "[]", "a", "---\n---\n", "listen: ${SET}\n", "listen: ${UNSET:-x}\n", "listen: $${X}\n",
		"routes: &r\n  <<: *r\n", "routes: {a: &a {mode: *a}}\n", "trusted_proxies: &p [*p]\n",
		"timeouts: {read: ${SET}}\n", "limits: {max_body: -1}\n", "? [a]\n: b\n", "!!binary aGk=: x\n",
		"routes:\n  x: {<<: [*y]}\n", "listen: !!int 3\n", "upstream: \"\\xff\"\n", "\xef\xbb\xbfupstream: x\n",
		"tls: {cert_file: \"\\0\"}\n", "{listen: [[[[[[[[[]]]]]]]]]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lookup := func(k string) (string, bool) {
			if k == "SET" {
				return "30s", true
			}
			return "", false
		}
		slow := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("parse took over 10s on %q", data)) })
		defer slow.Stop()
		c, err := parse(data, "fuzz.yaml", lookup)
		checkProblems(t, err)
		if c != nil {
			checkProblems(t, c.Validate())
		}
	})
}

func checkProblems(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v, want *ValidationError", err, err)
	}
	for _, p := range ve.Problems {
		if p.File != "fuzz.yaml" || p.Line < 1 || p.Col < 1 {
			t.Fatalf("problem without a position: %+v", p)
		}
		if strings.HasPrefix(p.Msg, "internal error") {
			t.Fatalf("loader panicked: %s", p.Msg)
		}
		if !strings.HasPrefix(p.Msg, "unknown key") && !strings.HasPrefix(p.Msg, "duplicate key") && !pathFits(p.Path) {
			t.Fatalf("problem %q at key path %q, which is not in the config structs", p.Msg, p.Path)
		}
	}
}
