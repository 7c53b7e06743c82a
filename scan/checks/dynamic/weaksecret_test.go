package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
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

// The built-in list holds at least 10,000 distinct secrets, and one deep in
// the common-password part is found.
func TestWeakSecretsList(t *testing.T) {
	if n := len(dynamic.WeakSecrets); n < 10000 {
		t.Fatalf("len(WeakSecrets) = %d, want >= 10000", n)
	}
	t.Logf("%d distinct weak secrets", len(dynamic.WeakSecrets))
	seen := map[string]bool{}
	for _, s := range dynamic.WeakSecrets {
		if s == "" || seen[s] {
			t.Fatalf("WeakSecrets holds %q twice or empty", s)
		}
		seen[s] = true
	}
	last := dynamic.WeakSecrets[len(dynamic.WeakSecrets)-1]
	tok := dynamic.Sign(map[string]any{"username": "alice"}, last)
	s, n, ok := dynamic.Crack(tok, dynamic.WeakSecrets)
	if !ok || s != last || n != len(dynamic.WeakSecrets) {
		t.Errorf("Crack(token signed with the last entry %q) = %q, %d, %v", last, s, n, ok)
	}
	for _, w := range []string{"superman", "trustno1", "secret", "your-256-bit-secret"} {
		if !seen[w] {
			t.Errorf("WeakSecrets lacks %q", w)
		}
	}
}

// BenchmarkCrackMiss measures one full offline pass over the list (a
// token whose secret is not in it).
func BenchmarkCrackMiss(b *testing.B) {
	tok := dynamic.Sign(map[string]any{"sub": "1"}, "b3c1f0e2a9d84c7e9a1f3b5d7c9e1a2b")
	for b.Loop() {
		if _, _, ok := dynamic.Crack(tok, dynamic.WeakSecrets); ok {
			b.Fatal("cracked a strong secret")
		}
	}
}
