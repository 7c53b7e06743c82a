package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestSQLiBoolean(t *testing.T) {
	expect(t, dynamic.SQLiBoolean{}, vuln{SQLi: true}, "searchUsers|query q")
}

// TestSQLiBooleanGrowingList: the table the injection reads grows while the
// scan runs (other clients, or the scan's own registrations, add users), so
// the second true answer lists more rows than the first. The finding must
// still be confirmed: the second pair reproduces the direction of the first
// (true closer to true, false to false), not byte-for-byte the same lists.
// It failed before (a flake in the demo, one run of fourteen).
func TestSQLiBooleanGrowingList(t *testing.T) {
	expect(t, dynamic.SQLiBoolean{}, vuln{SQLi: true, Growing: true}, "searchUsers|query q")
}
