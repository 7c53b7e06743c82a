package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestErrorHandling(t *testing.T) {
	expect(t, dynamic.ErrorHandling{}, vuln{LeakErrors: true}, "getUser|", "updateUser|")
	t.Run("sql error text", func(t *testing.T) {
		fs := scanToy(t, vuln{SQLi: true}, dynamic.ErrorHandling{})
		if len(fs) != 1 || fs[0].Operation != "searchUsers" {
			t.Errorf("want one finding on searchUsers, got %+v", fs)
		}
	})
}
