package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestSQLiError(t *testing.T) {
	expect(t, dynamic.SQLiError{}, vuln{SQLi: true}, "searchUsers|query q")
}
