package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestSQLiBoolean(t *testing.T) {
	expect(t, dynamic.SQLiBoolean{}, vuln{SQLi: true}, "searchUsers|query q")
}
