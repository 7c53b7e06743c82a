package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpListsEveryCommand: `gatehouse --help` names every command in
// its overview, with the command's own short help.
func TestHelpListsEveryCommand(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	overview, _, ok := strings.Cut(help, "Usage:")
	if !ok {
		t.Fatalf("no Usage: section in\n%s", help)
	}
	want := []string{"serve", "scan", "audit", "init", "validate", "token", "apikey", "version"}
	if demoBuilt {
		want = append(want, "demo")
	}
	for _, name := range want {
		c, _, err := root.Find([]string{name})
		if err != nil || c == root {
			t.Errorf("command %s is not registered", name)
			continue
		}
		if !strings.Contains(overview, "  "+name+" ") {
			t.Errorf("the help overview does not list %s:\n%s", name, overview)
		}
	}
	for _, c := range root.Commands() {
		// cobra adds "completion" when Execute runs, after the overview
		// was written; it is under "Available Commands".
		if c.IsAvailableCommand() && c.Name() != "completion" && !strings.Contains(overview, "  "+c.Name()+" ") {
			t.Errorf("the help overview does not list the registered command %s", c.Name())
		}
	}
}
