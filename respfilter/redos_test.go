package respfilter

import (
	"errors"
	"strings"
	"testing"
)

// TestPatternTimeoutBlocks (attacker): an upstream response whose value or
// key makes a catastrophic pattern backtrack is cut at the pattern timeout
// and blocked as invalid, in validate mode (the pattern keyword) and in
// filter mode (patternProperties decide which keys are declared); a value
// that matches quickly still passes.
func TestPatternTimeoutBlocks(t *testing.T) {
	evil := strings.Repeat("a", 40) + "!"
	validate := ModeValidate
	f := newFilter(t, "testdata/redos31.yaml", Options{Operations: map[string]OperationOptions{"getV": {Mode: &validate}}})
	for _, tc := range []struct {
		name, op, body string
		blocked        bool
	}{
		{"validate: value backtracks", "getV", `{"evil":"` + evil + `"}`, true},
		{"validate: value matches", "getV", `{"evil":"aaaa"}`, false},
		{"filter: key backtracks", "getP", `{"` + evil + `":"x"}`, true},
		{"filter: key matches", "getP", `{"aaaa":"x"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := f.Apply(tc.op, 200, []byte(tc.body))
			if tc.blocked {
				if !errors.Is(err, ErrInvalid) || out != nil {
					t.Fatalf("Apply = %s, %v; want blocked with ErrInvalid", out, err)
				}
				return
			}
			if err != nil || !strings.Contains(string(out), "aaaa") {
				t.Fatalf("Apply = %s, %v; want the body passed", out, err)
			}
		})
	}
}
