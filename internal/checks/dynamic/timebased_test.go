package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/checks/dynamic"
)

// The toy sleeps toyUnit per requested second; the checks' Unit matches, so
// a full probe costs about 8 units (200ms) per payload.
func TestSQLiTime(t *testing.T) {
	expect(t, dynamic.SQLiTime{Unit: toyUnit}, vuln{SQLiTime: true}, "searchUsers|query q")
}

func TestCommandInjection(t *testing.T) {
	expect(t, dynamic.CommandInjection{Unit: toyUnit}, vuln{CmdTime: true}, "searchUsers|query q")
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
