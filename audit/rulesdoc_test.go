package audit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/audit"
)

// TestDocsListEveryRule: docs/audit.md has a table row for every rule,
// with its severity and OWASP category.
func TestDocsListEveryRule(t *testing.T) {
	b, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range audit.Rules() {
		row := "| " + r.ID + " | " + r.Family + " | " + r.Severity.String() + " | " + strings.SplitN(r.OWASP, " ", 2)[0] + " | " + r.Title + " |"
		if !strings.Contains(doc, row) {
			t.Errorf("docs/audit.md lacks the row\n%s", row)
		}
	}
}
