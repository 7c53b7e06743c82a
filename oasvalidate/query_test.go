package oasvalidate

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseQueryCanonical(t *testing.T) {
	for _, tc := range []struct {
		raw, canon string
		err        bool
	}{
		{raw: "a=1&b=2", canon: "a=1&b=2"},
		{raw: "q=a%20b+c&limit=%35", canon: "q=a+b+c&limit=5"},
		{raw: "flag", canon: "flag="},
		{raw: "a=1&&b=2", canon: "a=1&b=2"},
		{raw: "q=a%3Bb", canon: "q=a%3Bb"},
		{raw: "x=%2F%3F%26%3D", canon: "x=%2F%3F%26%3D"},
		{raw: "limit=5;limit=100000", err: true},
		{raw: "a=%zz", err: true},
		{raw: "a=%ff", err: true},
		{raw: "=1", err: true},
	} {
		fs, err := ParseQuery(tc.raw, FormLimits{})
		if tc.err {
			if !errors.Is(err, ErrQuery) {
				t.Errorf("ParseQuery(%q) = %v, want ErrQuery", tc.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseQuery(%q) = %v", tc.raw, err)
			continue
		}
		if got := CanonicalQuery(fs); got != tc.canon {
			t.Errorf("CanonicalQuery(ParseQuery(%q)) = %q, want %q", tc.raw, got, tc.canon)
		}
	}
}

// FuzzParseQuery: the canonical form parses back to the same parameters and
// is a fixed point, so what the gateway validated is what the upstream gets.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "q=a%20b+c", "a;b=c", "a=%zz", "x=%2F%3F%26%3D&y", "filter%5Bc%5D=r"} {
		f.Add(s)
	}
	lim := FormLimits{MaxFields: 64, MaxValueLen: 1024}
	f.Fuzz(func(t *testing.T, raw string) {
		fs, err := ParseQuery(raw, lim)
		if err != nil {
			return
		}
		c := CanonicalQuery(fs)
		fs2, err := ParseQuery(c, lim)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", c, raw, err)
		}
		if len(fs) != len(fs2) || (len(fs) > 0 && !reflect.DeepEqual(fs, fs2)) {
			t.Fatalf("round trip of %q: %v != %v", raw, fs, fs2)
		}
		if c2 := CanonicalQuery(fs2); c2 != c {
			t.Fatalf("canonical form not a fixed point: %q -> %q", c, c2)
		}
	})
}
