package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// The toy sleeps toyUnit per requested second, for a query parameter
// (GET /users/search?q=) and for a JSON body field (POST /users/find
// {"name"}); the other body field (an integer) stays valid; the checks' Unit matches, so
// a full probe costs about 8 units (200ms) per payload.
func TestSQLiTime(t *testing.T) {
	expectTimed(t, dynamic.SQLiTime{Unit: toyUnit}, vuln{SQLiTime: true}, "searchUsers|query q", "findUsers|body name")
}

func TestCommandInjection(t *testing.T) {
	expectTimed(t, dynamic.CommandInjection{Unit: toyUnit}, vuln{CmdTime: true}, "searchUsers|query q", "findUsers|body name")
}

// A constant slowness unrelated to the payload is not injection: the shell
// payload on an API that sleeps for SQL only stays silent, and vice versa.
func TestTimeBasedCrossed(t *testing.T) {
	if fs := scanToy(t, vuln{SQLiTime: true}, dynamic.CommandInjection{Unit: toyUnit}); len(fs) != 0 {
		t.Errorf("command injection reported on an SQL-only sleep: %+v", fs)
	}
	if fs := scanToy(t, vuln{CmdTime: true}, dynamic.SQLiTime{Unit: toyUnit}); len(fs) != 0 {
		t.Errorf("SQL injection reported on a shell-only sleep: %+v", fs)
	}
}
