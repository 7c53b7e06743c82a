package pwpolicy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/internal/pwpolicy"
)

func TestCheck(t *testing.T) {
	def := pwpolicy.Policy{}
	eight := pwpolicy.Policy{MinLength: 8, MaxLength: 64}
	tests := []struct {
		name string
		pol  pwpolicy.Policy
		pw   string
		user []string
		want pwpolicy.Reason
	}{
		{"good", def, "violet-anvil-cactus-52", nil, pwpolicy.OK},
		{"exactly min", def, "abcdefghijk!", nil, pwpolicy.OK},
		{"one under min", def, "abcdefghijk", nil, pwpolicy.TooShort},
		{"empty", def, "", nil, pwpolicy.TooShort},
		{"max", def, strings.Repeat("x", 128), nil, pwpolicy.OK},
		{"over max", def, strings.Repeat("x", 129), nil, pwpolicy.TooLong},
		{"huge", def, strings.Repeat("x", 1<<20), nil, pwpolicy.TooLong},
		// 12 "é" written decomposed are 24 code points, 12 after NFC
		{"nfc counts composed", def, strings.Repeat("e\u0301", 12), nil, pwpolicy.OK},
		{"nfc short", def, strings.Repeat("e\u0301", 11), nil, pwpolicy.TooShort},
		// 100 decomposed "é": 200 code points before NFC, 100 after
		{"nfc under max", def, strings.Repeat("e\u0301", 100), nil, pwpolicy.OK},
		{"multibyte counted as code points", def, strings.Repeat("密", 12), nil, pwpolicy.OK},
		{"common", def, "unbelievable", nil, pwpolicy.TooCommon},
		{"common upper", def, "UNBELIEVABLE", nil, pwpolicy.TooCommon},
		{"common mixed", def, "UnBeLiEvAbLe", nil, pwpolicy.TooCommon},
		{"common at 8", eight, "password1", nil, pwpolicy.TooCommon},
		{"common at 8 upper", eight, "PASSWORD1", nil, pwpolicy.TooCommon},
		{"common at 8 sunshine", eight, "Sunshine", nil, pwpolicy.TooCommon},
		{"nul", def, "abcdefghijkl\x00m", nil, pwpolicy.InvalidCharacters},
		{"newline", def, "abcdefghijkl\nm", nil, pwpolicy.InvalidCharacters},
		{"del", def, "abcdefghijkl\x7fm", nil, pwpolicy.InvalidCharacters},
		{"c1 control", def, "abcdefghijkl\u0085m", nil, pwpolicy.InvalidCharacters},
		{"invalid utf8", def, "abcdefghijkl\xffm", nil, pwpolicy.InvalidCharacters},
		{"equals username", def, "annabelle1234", []string{"annabelle1234"}, pwpolicy.ContainsUser},
		{"contains username", def, "xxannabelle99xx", []string{"annabelle"}, pwpolicy.ContainsUser},
		{"contains username case", def, "xxANNABELLE99xx", []string{"AnnaBelle"}, pwpolicy.ContainsUser},
		{"contains email", def, "ann.lee@example.com!", []string{"ann.lee@example.com"}, pwpolicy.ContainsUser},
		{"contains email local part", def, "i-am-ann.lee-2024", []string{"Ann.Lee@example.com"}, pwpolicy.ContainsUser},
		{"short user value ignored", def, "bob-likes-long-walks", []string{"bob"}, pwpolicy.OK},
		{"four chars user value", def, "xx-carl-likes-walks", []string{"carl"}, pwpolicy.ContainsUser},
		{"user nfc", def, "xx-jose\u0301-likes-walks", []string{"jos\u00e9"}, pwpolicy.ContainsUser},
		{"empty user", def, "violet-anvil-cactus-52", []string{"", "  "}, pwpolicy.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pol.Check(tt.pw, tt.user...); got != tt.want {
				t.Errorf("Check(%q, %q) = %q, want %q", tt.pw, tt.user, got, tt.want)
			}
		})
	}
}

// TestLookupMatchesEncodingJSON: Lookup finds the keys encoding/json would
// decode into a field tagged "password", lookalikes included.
func TestLookupMatchesEncodingJSON(t *testing.T) {
	keys := []string{"password", "Password", "PASSWORD", "pAsSwOrD",
		"pa\u017fsword", // ſ (long s) folds to s
		"PA\u017fSWORD", "passwor\u0064", "password ", "passw0rd", "pass_word", "passwordx",
		"\u212apassword", // Kelvin sign: not in the name, must not match
	}
	for _, k := range keys {
		var v struct {
			Password string `json:"password"`
		}
		body, _ := json.Marshal(map[string]string{k: "value"})
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		jsonMatches := v.Password == "value"
		got := len(pwpolicy.Lookup(map[string]any{k: "value"}, "password")) == 1
		if got != jsonMatches {
			t.Errorf("Lookup(%q) matched = %v, encoding/json matched = %v", k, got, jsonMatches)
		}
	}
	// the Kelvin sign does fold to k: a field named "kind" matches it
	var v struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal([]byte(`{"\u212aind":"x"}`), &v)
	if got := len(pwpolicy.Lookup(map[string]any{"\u212aind": "x"}, "kind")) == 1; got != (v.Kind == "x") {
		t.Errorf("Lookup(Kelvin kind) = %v, encoding/json = %v", got, v.Kind == "x")
	}
	all := pwpolicy.Lookup(map[string]any{"password": "a", "Password": "b", "pa\u017fsword": "c", "user": "d"}, "password")
	if len(all) != 3 {
		t.Errorf("Lookup over three variants = %d values, want 3", len(all))
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "violet-anvil-cactus-52", "unbelievable", "e\u0301e\u0301", "a\x00b", "\xff", strings.Repeat("密", 40)} {
		f.Add(s, "annabelle")
	}
	pol := pwpolicy.Policy{MinLength: 4, MaxLength: 32}
	f.Fuzz(func(t *testing.T, pw, user string) {
		r := pol.Check(pw, user)
		if r == pwpolicy.OK {
			if !utf8.ValidString(pw) {
				t.Fatalf("Check accepted invalid UTF-8 %q", pw)
			}
			if n := utf8.RuneCountInString(norm.NFC.String(pw)); n < 4 || n > 32 {
				t.Fatalf("Check accepted %q (%d code points after NFC) outside 4..32", pw, n)
			}
			for _, c := range pw {
				if unicode.IsControl(c) {
					t.Fatalf("Check accepted control character %U", c)
				}
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	pol := pwpolicy.Policy{}
	in := []string{"violet-anvil-cactus-52", "unbelievable", "short"}
	for i := 0; b.Loop(); i++ {
		_ = pol.Check(in[i%len(in)], "annabelle", "ann.lee@example.com")
	}
}
