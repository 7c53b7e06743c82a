package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestAfterLogout(t *testing.T) {
	expect(t, dynamic.AfterLogout{}, vuln{NoRevoke: true}, "logout|")
}
