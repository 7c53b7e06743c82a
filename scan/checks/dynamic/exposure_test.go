package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestExposure(t *testing.T) {
	expect(t, dynamic.Exposure{}, vuln{Expose: true}, "listUsers|password_hash", "getUser|password_hash", "register|password_hash")
}
