package weaklist_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/weaklist"
)

func TestPasswordsList(t *testing.T) {
	pw := weaklist.Passwords()
	if len(pw) < 10000 {
		t.Fatalf("len(Passwords()) = %d, want >= 10000", len(pw))
	}
	for _, s := range []string{pw[0], pw[len(pw)-1], "password", "123456", "qwerty"} {
		if !weaklist.CommonPassword(s) {
			t.Errorf("CommonPassword(%q) = false, want true", s)
		}
	}
}

func TestCommonPasswordCase(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"password", true},
		{"PassWord", true},
		{"PASSWORD", true},
		{"QWERTY", true},
		{"correct horse battery staple", false},
		{"p4ssw0rd-but-much-longer-than-that", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := weaklist.CommonPassword(tt.in); got != tt.want {
			t.Errorf("CommonPassword(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestWeakSecret(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"your-256-bit-secret", true}, // JWTSecrets only
		{"Your-256-Bit-Secret", true},
		{"keyboard cat", true},
		{"letmein", true}, // both lists
		{"123456789", true},
		{"9f2c7e1b4a6d8e0f3c5b7a9d1e2f4a6c", false},
	}
	for _, tt := range tests {
		if got := weaklist.WeakSecret(tt.in); got != tt.want {
			t.Errorf("WeakSecret(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkCommonPassword(b *testing.B) {
	in := []string{"Tr0ub4dor&3-horse", "password", "ZZZZZZZZZZZZZZ"}
	for i := 0; b.Loop(); i++ {
		_ = weaklist.CommonPassword(in[i%len(in)])
	}
}

func ExampleCommonPassword() {
	fmt.Println(weaklist.CommonPassword("Qwerty"), weaklist.CommonPassword("violet-anvil-cactus-52"))
	// Output: true false
}
