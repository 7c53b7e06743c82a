package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/checks/dynamic"
)

// The correct toy ignores q[$ne] (the list is then unfiltered, as for the
// control q[ghscan]) and fails a password that is not a string.
func TestNoSQLInjection(t *testing.T) {
	expect(t, dynamic.NoSQLInjection{}, vuln{NoSQL: true}, "login|body password", "searchUsers|query q")
}
