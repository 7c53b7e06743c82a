package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestMassAssignment(t *testing.T) {
	expect(t, dynamic.MassAssignment{}, vuln{MassAssign: true}, "register|role", "updateUser|role")
}
