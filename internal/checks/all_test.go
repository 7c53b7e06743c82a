package checks_test

import (
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/checks"
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
		{"injection", 6, false},
		{"GH2010,bfla", 2, false},
		{"gh2010", 1, false},
		{"all,-injection", all - 6, false},
		{"-misconfig", all - 6, false},
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
