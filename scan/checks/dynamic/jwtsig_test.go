package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestJWTSignature(t *testing.T) {
	t.Run("alg none", func(t *testing.T) { expect(t, dynamic.JWTSignature{}, vuln{AlgNone: true}, "listUsers|alg-none") })
	t.Run("signature ignored", func(t *testing.T) {
		expect(t, dynamic.JWTSignature{}, vuln{NoSigCheck: true}, "listUsers|alg-none", "listUsers|stripped", "listUsers|tampered")
	})
}
