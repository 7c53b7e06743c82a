package checks_test

import (
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestDynamicMeta(t *testing.T) {
	seen := map[string]bool{}
	id := regexp.MustCompile(`^GH2\d{3}$`)
	for _, c := range checks.Dynamic() {
		m := c.Meta()
		if !id.MatchString(m.ID) || seen[m.ID] || m.Title == "" || m.OWASP == "" || m.CWE == "" || m.Category == "" || m.Remediation == "" || m.Severity == 0 {
			t.Errorf("bad or duplicate meta: %+v", m)
		}
		seen[m.ID] = true
	}
}

func TestSelect(t *testing.T) {
	all := len(checks.Dynamic())
	tests := []struct {
		spec string
		want int
		bad  bool
	}{
		{"", all, false},
		{"all", all, false},
		{"injection", 7, false},
		{"GH2010,bfla", 2, false},
		{"gh2010", 1, false},
		{"all,-injection", all - 7, false},
		{"-misconfig", all - 7, false},
		{"nosuch", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := checks.Select(tt.spec)
			if (err != nil) != tt.bad || len(got) != tt.want {
				t.Errorf("Select(%q) = %d checks, %v; want %d, error %v", tt.spec, len(got), err, tt.want, tt.bad)
			}
		})
	}
}

func TestTune(t *testing.T) {
	cs := checks.Tune(checks.Dynamic(), checks.Settings{Burst: 7})
	if len(cs) != len(checks.Dynamic()) {
		t.Fatalf("Tune changed the number of checks: %d", len(cs))
	}
	tuned := 0
	for _, c := range cs {
		switch c := c.(type) {
		case dynamic.LoginRateLimit:
			tuned++
			if c.Burst != 7 {
				t.Errorf("GH2030 burst = %d, want 7", c.Burst)
			}
		case dynamic.ReadRateLimit:
			tuned++
			if c.Burst != 7 {
				t.Errorf("GH2032 burst = %d, want 7", c.Burst)
			}
		}
	}
	if tuned != 2 {
		t.Errorf("tuned %d checks, want GH2030 and GH2032", tuned)
	}
}
