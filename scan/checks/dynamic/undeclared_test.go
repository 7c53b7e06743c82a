package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestUndeclared(t *testing.T) {
	expect(t, dynamic.Undeclared{}, vuln{Undeclared: true}, "listUsers|", "getUser|", "register|")
}
