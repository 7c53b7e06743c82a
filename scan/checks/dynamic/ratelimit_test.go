package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestLoginRateLimit(t *testing.T) {
	expect(t, dynamic.LoginRateLimit{}, vuln{NoRateLimit: true}, "login|")
}
