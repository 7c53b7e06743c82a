package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestSecurityHeaders(t *testing.T) {
	expect(t, dynamic.SecurityHeaders{}, vuln{NoHeaders: true}, "|")
}
func TestCORS(t *testing.T) { expect(t, dynamic.CORS{}, vuln{CORS: true}, "|") }
func TestVersionDisclosure(t *testing.T) {
	expect(t, dynamic.VersionDisclosure{}, vuln{Version: true}, "|")
}
func TestTrace(t *testing.T) { expect(t, dynamic.Trace{}, vuln{Trace: true}, "|") }
