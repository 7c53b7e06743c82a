package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/checks/dynamic"
)

func TestWeakSecret(t *testing.T) {
	expect(t, dynamic.WeakSecret{}, vuln{WeakSecret: true}, "login|")
}

func TestCrackHS(t *testing.T) {
	claims := map[string]any{"sub": "1"}
	tests := []struct {
		name, tok string
		want      bool
	}{
		{"weak", dynamic.Sign(claims, "changeme"), true},
		{"strong", dynamic.Sign(claims, "b3c1f0e2a9d84c7e9a1f3b5d7c9e1a2b"), false},
		{"not a jwt", "abc", false},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := dynamic.CrackHS(tt.tok); got != tt.want {
				t.Errorf("CrackHS(%q) = %v, want %v", tt.tok, got, tt.want)
			}
		})
	}
}
