package policy

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

var idSeeds = []string{"1", "0", "-1", "01", "+1", "1.0", "0x1", "1e0", " 1", "1 ", "-0", "1_0", "９", "00",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "0b1", "0o1", "1\x00", "\u0661"}

// FuzzCanonicalID checks that an accepted integer id has exactly one
// spelling: every parser an upstream might use reads the same number, and
// formatting it back gives the same string.
func FuzzCanonicalID(f *testing.F) {
	for _, s := range idSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := CanonicalID(s, celpolicy.Int)
		if err != nil {
			return
		}
		if key != s {
			t.Fatalf("CanonicalID(%q) = %q: accepted a spelling that is not its own key", s, key)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != s {
			t.Fatalf("CanonicalID accepted %q, which does not round-trip (%d, %v)", s, n, err)
		}
		if m, err := strconv.ParseInt(s, 0, 64); err != nil || m != n {
			t.Fatalf("base-0 parser reads %q as %d, %v; decimal %d", s, m, err, n)
		}
		if bf, ok := new(big.Float).SetString(s); !ok || !bf.IsInt() {
			t.Fatalf("%q is not an integer to a float parser", s)
		}
		var j int64
		if err := json.Unmarshal([]byte(s), &j); err != nil || j != n {
			t.Fatalf("JSON reads %q as %d, %v; want %d", s, j, err, n)
		}
		// The string spelling is accepted as-is and never trimmed.
		if k, err := CanonicalID(s, celpolicy.String); err != nil || k != s {
			t.Fatalf("string CanonicalID(%q) = %q, %v", s, k, err)
		}
	})
}

// FuzzQuery checks the query scanner never panics and that every name it
// returns is the decoding of a piece of the input.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"user_id=1", "user_id=1&user_id=2", "a=b;user_id=2", "user_id[]=2", "user.id=2",
		"user%5Fid=2", "user_id=%zz", "&&=&", "USER_ID=1+2", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pairs, err := parseQuery(raw)
		if err != nil {
			return
		}
		if len(pairs) > strings.Count(raw, "&")+strings.Count(raw, ";")+1 {
			t.Fatalf("parseQuery(%q) returned %d pairs", raw, len(pairs))
		}
		for _, q := range pairs {
			_ = foldKey(normalizeName(q.name))
		}
	})
}

// FuzzBodyScan checks that the body scanners never panic, accept only valid
// JSON, and see every top-level key the standard decoder sees.
func FuzzBodyScan(f *testing.F) {
	for _, s := range []string{`{"user_id":1}`, `{"user_id":1,"user_id":2}`, `{"\u0075ser_id":2}`, `{"a":{"b":[1,{"c":2}]}}`,
		`[1,2]`, `{"user_id":1}{"x":1}`, `{"user_id":1,`, `"x"`, `{"USER_ID":1e0,"user_id":1.0}`, `{"a":1,"A":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		top, err := scanJSON(b)
		dup, derr := hasDuplicateKeys(b)
		valid := json.Valid(b)
		if err == nil && !valid {
			t.Fatalf("scanJSON accepted invalid JSON %q", b)
		}
		if derr == nil && !dup && !valid {
			t.Fatalf("hasDuplicateKeys accepted invalid JSON %q", b)
		}
		if err != nil || !valid {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) == nil {
			seen := map[string]bool{}
			for _, mem := range top {
				seen[mem.key] = true
			}
			for k := range m {
				if !seen[k] {
					t.Fatalf("scanJSON missed key %q in %q", k, b)
				}
			}
			if len(top) > len(m) && !dup {
				t.Fatalf("repeated top-level key in %q not reported as duplicate", b)
			}
		}
	})
}
