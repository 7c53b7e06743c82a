package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestTokenLifetime(t *testing.T) {
	expect(t, dynamic.TokenLifetime{}, vuln{NoExp: true}, "login|exp")
}
