package oasvalidate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/pb33f/jsonschema/v6"
)

// PatternTimeout bounds each match of a pattern compiled by regexp2 (the
// ECMAScript engine); RE2 patterns need none. It is read when a pattern is
// compiled.
//
// Regex dialect of `pattern` and `patternProperties`: JSON Schema
// specifies ECMA-262 regular expressions; Go's regexp is RE2. They differ
// both in what compiles (ECMA has \uXXXX escapes, repeat counts
// above 1000, look-ahead and look-behind, back-references; RE2 has none)
// and in what some constructs mean ('.' also excludes \r, U+2028 and U+2029
// in ECMA; \s also matches U+00A0, U+FEFF and the Unicode spaces).
//
// CompilePattern decides per pattern:
//
//   - RE2 when the pattern stays inside a subset where both dialects agree
//     once '.' and \s are rewritten to their ECMA sets (literals, classes,
//     groups, (?:...), alternation, anchors, quantifiers with counts up to
//     1000, \d \w \b and their negations, escaped punctuation). RE2 matches
//     in linear time, so these patterns need no timeout, and the common
//     ones (classes, anchors, counts) stay on it.
//   - Otherwise github.com/dlclark/regexp2 in its ECMAScript mode, a
//     backtracking engine: each match is bounded by PatternTimeout. A match
//     that runs out of time is a failed validation (the request is refused
//     with 400, the response filter answers a generic error), never a pass:
//     a hostile pattern such as ^(a+)+$ cannot hold a request, or the
//     gateway, for longer than the timeout.
//   - A pattern neither engine compiles is ErrBadPattern. SchemaSet skips
//     that one constraint, with a warning naming the file, line and column
//     (see SchemaSet.SkippedPatterns), instead of refusing the document;
//     the gateway refuses it instead with spec_strict_patterns: true.
var PatternTimeout = 100 * time.Millisecond

// ErrBadPattern is wrapped by CompilePattern when no engine compiles the
// pattern.
var ErrBadPattern = errors.New("pattern compiles in neither RE2 nor ECMAScript")

// errPatternTimeout is panicked by a regexp2 match that ran out of time
// (jsonschema's Regexp cannot return an error); Validator.Check and the
// response filter turn it into a failed validation.
var errPatternTimeout = errors.New("pattern match timed out")

// IsPatternTimeout reports whether v, a value recovered from a panic, is a
// pattern match that ran out of time.
func IsPatternTimeout(v any) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, errPatternTimeout)
}

// CompilePattern compiles an ECMA-262 pattern (see PatternTimeout for the
// engine choice). It is a jsonschema.RegexpEngine; the result is safe for
// concurrent use.
func CompilePattern(p string) (jsonschema.Regexp, error) {
	if tr, ok := re2Equivalent(p); ok {
		if re, err := regexp.Compile(tr); err == nil {
			return re2Regexp{re, p}, nil
		}
	}
	re, err := regexp2.Compile(p, regexp2.ECMAScript)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadPattern, p, err)
	}
	re.MatchTimeout = PatternTimeout
	return ecmaRegexp{re}, nil
}

// re2Regexp is a pattern compiled by RE2 from its rewritten form.
type re2Regexp struct {
	re  *regexp.Regexp
	src string
}

func (r re2Regexp) MatchString(s string) bool { return r.re.MatchString(s) }
func (r re2Regexp) String() string            { return r.src }

// ecmaRegexp is a pattern compiled by regexp2 (ECMAScript mode).
type ecmaRegexp struct{ re *regexp2.Regexp }

func (r ecmaRegexp) String() string { return r.re.String() }

func (r ecmaRegexp) MatchString(s string) bool {
	ok, err := r.re.MatchString(s)
	if err != nil {
		panic(fmt.Errorf("%w: %q", errPatternTimeout, r.re.String()))
	}
	return ok
}

// ECMA-262 WhiteSpace and LineTerminator, the members of \s, in RE2 syntax.
const ecmaSpace = `\t\n\x0B\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

// re2Equivalent rewrites p for RE2 when p only uses constructs that mean
// the same in both dialects after the rewrite ('.' and \s, \S to their
// ECMA sets); ok is false otherwise (the pattern goes to regexp2).
func re2Equivalent(p string) (string, bool) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", false
			}
			i++
			e := p[i]
			switch {
			case strings.IndexByte("dDwWtnrfv", e) >= 0:
				b.WriteByte('\\')
				b.WriteByte(e)
			case e == 'b' || e == 'B':
				if inClass { // [\b] is a backspace in ECMA
					return "", false
				}
				b.WriteByte('\\')
				b.WriteByte(e)
			case e == 's':
				if inClass {
					b.WriteString(ecmaSpace)
				} else {
					b.WriteString("[" + ecmaSpace + "]")
				}
			case e == 'S' && !inClass:
				b.WriteString("[^" + ecmaSpace + "]")
			case e < 0x80 && !isAlnum(e):
				b.WriteByte('\\')
				b.WriteByte(e)
			default: // \u, \x, \c, \0, back-references, \p, \k...
				return "", false
			}
		case inClass:
			switch c {
			case ']':
				inClass = false
			case '[':
				return "", false // RE2 reads [:alpha:] inside a class
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(p) && p[i+1] == ']' {
				return "", false // [] and [^] differ
			}
		case c == '.':
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
		case c == '(':
			if i+1 < len(p) && p[i+1] == '?' {
				if i+2 >= len(p) || p[i+2] != ':' {
					return "", false // look-around, named groups, flags
				}
			}
			b.WriteByte(c)
		case c == '{':
			j := strings.IndexByte(p[i:], '}')
			if j < 0 || !repeatCount(p[i+1:i+j]) {
				return "", false
			}
			b.WriteString(p[i : i+j+1])
			i += j
		case c == '}':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", false
	}
	return b.String(), true
}

// repeatCount reports whether s is "n", "n," or "n,m" with n, m ≤ 1000.
func repeatCount(s string) bool {
	lo, hi, comma := strings.Cut(s, ",")
	ok := func(t string) bool {
		n, err := strconv.Atoi(t)
		return err == nil && n >= 0 && n <= 1000 && t != "" && t[0] != '+' && t[0] != '-'
	}
	if !ok(lo) {
		return false
	}
	return !comma || hi == "" || ok(hi)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
