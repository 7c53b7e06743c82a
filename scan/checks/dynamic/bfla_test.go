package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestBFLA(t *testing.T) {
	expect(t, dynamic.BFLA{}, vuln{BFLA: true}, "adminStats|")
}
