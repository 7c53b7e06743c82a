package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/jsonx"
)

// ErrNonCanonical is returned by CanonicalID for a value that is not the one
// canonical spelling of an id of its declared type.
var ErrNonCanonical = errors.New("not a canonical id")

// CanonicalID returns the canonical comparison key of an id value s whose
// declared type is t, or an error wrapping ErrNonCanonical.
//
// For Int the only accepted spelling is canonical decimal: an optional '-'
// then digits without leading zeros ("0" itself is fine, "-0" is not),
// within int64. "01", "+1", "1.0", "0x1", "1e0", " 1", "1 ", "1_000" are all
// rejected rather than guessed: parsers disagree on them (strtol with base 0
// and legacy JavaScript read "010" as octal 8, Go's strconv.ParseInt with base
// 0 reads "0x1" and "1_0", Python's int() trims spaces, JSON.parse accepts
// "1e0" as 1), so any equivalence the gateway assumed could be a different id
// upstream. A request spelled non-canonically is denied, never matched.
//
// For Double the value must be a finite JSON number; the key is its shortest
// round-trip form. For Bool only "true" and "false". For String the value is
// used exactly as given (no trimming, no case folding, no Unicode
// normalization); only the empty string is rejected.
func CanonicalID(s string, t celpolicy.Type) (string, error) {
	switch t {
	case celpolicy.Int:
		if _, err := parseCanonicalInt(s); err != nil {
			return "", err
		}
		return s, nil
	case celpolicy.Double:
		if !isJSONNumber(s) {
			return "", fmt.Errorf("%w: want a JSON number", ErrNonCanonical)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", fmt.Errorf("%w: number out of range", ErrNonCanonical)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case celpolicy.Bool:
		if s != "true" && s != "false" {
			return "", fmt.Errorf("%w: want true or false", ErrNonCanonical)
		}
		return s, nil
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrNonCanonical)
	}
	return s, nil
}

// parseCanonicalInt parses canonical decimal int64 only.
func parseCanonicalInt(s string) (int64, error) {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if d == "" {
		return 0, fmt.Errorf("%w: empty integer", ErrNonCanonical)
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, fmt.Errorf("%w: integer has a non-digit", ErrNonCanonical)
		}
	}
	if len(d) > 1 && d[0] == '0' {
		return 0, fmt.Errorf("%w: integer has a leading zero", ErrNonCanonical)
	}
	if s == "-0" {
		return 0, fmt.Errorf("%w: negative zero", ErrNonCanonical)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: integer out of range", ErrNonCanonical)
	}
	return n, nil
}

// isJSONNumber reports whether s is a JSON number (RFC 8259) within the
// ranges the body parser accepts: one grammar for bodies, paths and ids.
func isJSONNumber(s string) bool {
	_, _, err := jsonx.ParseNumber(s)
	return err == nil
}

// canonicalClaim converts one claim value (string, float64, json.Number,
// int64, bool) to the comparison key for type t. Claims come from a verified
// token, but they are canonicalized the same way so that a numeric "sub"
// claim 42 and a path id "42" compare equal, and 42.5 never does.
func canonicalClaim(v any, t celpolicy.Type) (string, bool) {
	switch x := v.(type) {
	case string:
		k, err := CanonicalID(x, t)
		return k, err == nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", false
		}
		if t == celpolicy.Double {
			return strconv.FormatFloat(x, 'g', -1, 64), true
		}
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return "", false
		}
		if t == celpolicy.Int || t == celpolicy.String {
			return strconv.FormatInt(int64(x), 10), true
		}
	case int64:
		if t == celpolicy.Int || t == celpolicy.String {
			return strconv.FormatInt(x, 10), true
		}
		if t == celpolicy.Double {
			return strconv.FormatFloat(float64(x), 'g', -1, 64), true
		}
	case int:
		return canonicalClaim(int64(x), t)
	case bool:
		if t == celpolicy.Bool {
			return strconv.FormatBool(x), true
		}
	case interface{ String() string }: // json.Number
		k, err := CanonicalID(x.String(), t)
		return k, err == nil
	}
	return "", false
}
