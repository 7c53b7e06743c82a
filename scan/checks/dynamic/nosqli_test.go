package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// The correct toy ignores q[$ne] (the list is then unfiltered, as for the
// control q[ghscan]), fails a password that is not a string and answers
// 400 to a body name that is not one.
func TestNoSQLInjection(t *testing.T) {
	expect(t, dynamic.NoSQLInjection{}, vuln{NoSQL: true}, "login|body password", "searchUsers|query q", "findUsers|body name")
}
