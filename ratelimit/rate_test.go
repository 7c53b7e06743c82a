package ratelimit

import (
	"errors"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		err  bool
	}{
		{"5/min", Rate{5, time.Minute}, false},
		{"100/s", Rate{100, time.Second}, false},
		{"10/1h", Rate{10, time.Hour}, false},
		{" 7 / 30s ", Rate{7, 30 * time.Second}, false},
		{"1/day", Rate{1, 24 * time.Hour}, false},
		{"3/2d", Rate{3, 48 * time.Hour}, false},
		{"2/1.5m", Rate{2, 90 * time.Second}, false},
		{"50/MIN", Rate{50, time.Minute}, false},
		{"1000000/s", Rate{1000000, time.Second}, false},
		{"", Rate{}, true},
		{"5", Rate{}, true},
		{"0/s", Rate{}, true},
		{"-1/s", Rate{}, true},
		{"5/", Rate{}, true},
		{"5/fortnight", Rate{}, true},
		{"5/0s", Rate{}, true},
		{"5/-1s", Rate{}, true},
		{"1000001/s", Rate{}, true},
		{"2000/1ms", Rate{}, true}, // more than one per microsecond
		{"1/400d", Rate{}, true},
		{"1/1e400s", Rate{}, true},
		{"1/NaNs", Rate{}, true},
		{"5/min/x", Rate{}, true},
		{"0x10/s", Rate{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseRate(%q) err = %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrBadRate) {
				t.Fatalf("ParseRate(%q) err = %v, want ErrBadRate", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewPolicy(t *testing.T) {
	r := Rate{100, time.Second}
	for _, tt := range []struct {
		name  string
		burst int
		ok    bool
	}{
		{"per-user", 200, true},
		{"a.b_c-1", 0, true},
		{"", 1, false},
		{`bad"name`, 1, false},
		{"spaces no", 1, false},
		{"x", -1, false},
		{"x", maxCount + 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.name, r, tt.burst)
			if (err == nil) != tt.ok {
				t.Fatalf("NewPolicy(%q, %d) err = %v, want ok %v", tt.name, tt.burst, err, tt.ok)
			}
			if err == nil && tt.burst == 0 && p.Burst != r.Count {
				t.Fatalf("default burst = %d, want %d", p.Burst, r.Count)
			}
		})
	}
}

// FuzzParseRate: any input either fails with ErrBadRate or yields a rate
// that passes NewPolicy and round-trips through String.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"5/min", "100/s", "10/1h", "1/day", "2/1.5m", "0/s", "5/", "1/1e400s", "9/9999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrBadRate) {
				t.Fatalf("ParseRate(%q) err = %v, not ErrBadRate", s, err)
			}
			return
		}
		if r.Count < 1 || r.Per <= 0 || r.Interval() < time.Microsecond {
			t.Fatalf("ParseRate(%q) = %+v: out of bounds", s, r)
		}
		p, err := NewPolicy("f", r, 0)
		if err != nil {
			t.Fatalf("NewPolicy(ParseRate(%q)) = %v", s, err)
		}
		if p.ToleranceNanos() <= 0 {
			t.Fatalf("tolerance overflow for %q", s)
		}
		r2, err := ParseRate(r.String())
		if err != nil || r2 != r {
			t.Fatalf("round trip %q -> %q -> %v, %v", s, r.String(), r2, err)
		}
	})
}
