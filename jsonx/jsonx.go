// Package jsonx is a strict JSON reader for attacker-controlled bodies.
//
// It parses a complete document into plain Go values (map[string]any, []any,
// string, json.Number, bool, nil) and enforces, while it reads rather than
// after, the limits that let one parser disagree with another or exhaust
// memory: nesting depth, string and array lengths, keys per object, number
// length and magnitude. It rejects what encoding/json silently accepts:
// duplicate object keys (compared after unescaping, so "\u0072ole" collides
// with "role"), a UTF-8 byte order mark, invalid UTF-8 and lone UTF-16
// surrogates, and trailing data.
//
// Why not encoding/json: it keeps the last of duplicate keys, replaces invalid
// UTF-8 with U+FFFD and checks no limits, so the gateway and the upstream could
// see different documents. Parse is safe for concurrent use.
package jsonx

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Sentinel errors; Parse wraps them in *Error, check them with errors.Is.
var (
	ErrSyntax       = errors.New("jsonx: invalid json")
	ErrBOM          = errors.New("jsonx: byte order mark")
	ErrInvalidUTF8  = errors.New("jsonx: invalid utf-8")
	ErrDuplicateKey = errors.New("jsonx: duplicate object key")
	ErrDepth        = errors.New("jsonx: nesting too deep")
	ErrStringLength = errors.New("jsonx: string too long")
	ErrArrayLength  = errors.New("jsonx: array too long")
	ErrObjectSize   = errors.New("jsonx: too many object keys")
	ErrNumber       = errors.New("jsonx: number out of range")
)

// Limits bound a document. A zero field takes the default shown.
type Limits struct {
	MaxDepth     int // nesting of objects and arrays; default 32
	MaxStringLen int // bytes of one string (key or value) after unescaping; default 65536
	MaxArrayLen  int // elements of one array; default 10000
	MaxKeys      int // keys of one object; default 1000
	MaxNumberLen int // characters of one number literal; default 40
	// AnyNumber skips the int64/float64 range check (for upstream responses
	// that are re-serialized verbatim, never interpreted).
	AnyNumber bool
}

// Defaults returns l with zero fields set to their defaults.
func (l Limits) Defaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = 64 << 10
	}
	if l.MaxArrayLen <= 0 {
		l.MaxArrayLen = 10000
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = 1000
	}
	if l.MaxNumberLen <= 0 {
		l.MaxNumberLen = 40
	}
	return l
}

// Error locates a rejected document: the byte offset and the JSON pointer of
// the value being read. Err is one of the sentinels.
type Error struct {
	Offset  int
	Pointer string
	Err     error
	Detail  string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%v at offset %d", e.Err, e.Offset)
	if e.Pointer != "" {
		s += " (" + e.Pointer + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

type seg struct {
	key   string
	idx   int
	isIdx bool
}

type parser struct {
	data []byte
	pos  int
	lim  Limits
	path []seg
}

// Parse reads one JSON document from data under lim. Numbers come back as
// json.Number; integers must fit in int64 and other numbers must be finite
// float64 values (1e309 is rejected rather than becoming +Inf).
func Parse(data []byte, lim Limits) (any, error) {
	p := &parser{data: data, lim: lim.Defaults()}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return nil, p.fail(ErrBOM, "")
	}
	p.skipWS()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return nil, p.fail(ErrSyntax, "trailing data")
	}
	return v, nil
}

// Pointer formats a JSON pointer (RFC 6901) from path segments.
func Pointer(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(escapePointer(s))
	}
	return b.String()
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (p *parser) pointer() string {
	var b strings.Builder
	for _, s := range p.path {
		b.WriteByte('/')
		if s.isIdx {
			b.WriteString(strconv.Itoa(s.idx))
		} else {
			b.WriteString(escapePointer(s.key))
		}
	}
	return b.String()
}

func (p *parser) fail(err error, detail string) error {
	return &Error{Offset: p.pos, Pointer: p.pointer(), Err: err, Detail: detail}
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.fail(ErrSyntax, "unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		if depth+1 > p.lim.MaxDepth {
			return nil, p.fail(ErrDepth, "")
		}
		return p.object(depth + 1)
	case c == '[':
		if depth+1 > p.lim.MaxDepth {
			return nil, p.fail(ErrDepth, "")
		}
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.fail(ErrSyntax, "unexpected character")
	}
}

func (p *parser) literal(lit string) error {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return p.fail(ErrSyntax, "invalid literal")
	}
	p.pos += len(lit)
	return nil
}

func (p *parser) object(depth int) (any, error) {
	p.pos++ // '{'
	m := make(map[string]any)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.fail(ErrSyntax, "expected object key")
		}
		keyPos := p.pos
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			p.pos = keyPos
			p.path = append(p.path, seg{key: k})
			err := p.fail(ErrDuplicateKey, "")
			p.path = p.path[:len(p.path)-1]
			return nil, err
		}
		if len(m) >= p.lim.MaxKeys {
			return nil, p.fail(ErrObjectSize, "")
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail(ErrSyntax, "expected ':'")
		}
		p.pos++
		p.skipWS()
		p.path = append(p.path, seg{key: k})
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		m[k] = v
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail(ErrSyntax, "unterminated object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return m, nil
		default:
			return nil, p.fail(ErrSyntax, "expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.pos++ // '['
	a := make([]any, 0, 4)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, nil
	}
	for {
		if len(a) >= p.lim.MaxArrayLen {
			return nil, p.fail(ErrArrayLength, "")
		}
		p.skipWS()
		p.path = append(p.path, seg{idx: len(a), isIdx: true})
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		a = append(a, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail(ErrSyntax, "unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return a, nil
		default:
			return nil, p.fail(ErrSyntax, "expected ',' or ']'")
		}
	}
}

// str reads a string starting at the opening quote.
func (p *parser) str() (string, error) {
	p.pos++ // '"'
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			if len(s) > p.lim.MaxStringLen {
				return "", p.fail(ErrStringLength, "")
			}
			if !utf8.Valid(s) {
				return "", p.fail(ErrInvalidUTF8, "")
			}
			p.pos++
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail(ErrSyntax, "control character in string")
		}
		p.pos++
	}
	if !utf8.Valid(p.data[start:p.pos]) {
		return "", p.fail(ErrInvalidUTF8, "")
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for {
		if p.pos >= len(p.data) {
			return "", p.fail(ErrSyntax, "unterminated string")
		}
		if len(buf) > p.lim.MaxStringLen {
			return "", p.fail(ErrStringLength, "")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.fail(ErrSyntax, "control character in string")
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.fail(ErrSyntax, "unterminated escape")
			}
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return "", p.fail(ErrInvalidUTF8, "lone surrogate")
					}
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", p.fail(ErrInvalidUTF8, "invalid surrogate pair")
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.fail(ErrSyntax, "invalid escape")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.pos++
		default:
			r, n := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && n <= 1 {
				return "", p.fail(ErrInvalidUTF8, "")
			}
			buf = append(buf, p.data[p.pos:p.pos+n]...)
			p.pos += n
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if len(p.data)-p.pos < 4 {
		return 0, p.fail(ErrSyntax, "short unicode escape")
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.data[p.pos+i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.fail(ErrSyntax, "invalid unicode escape")
		}
	}
	p.pos += 4
	return r, nil
}

func (p *parser) number() (any, error) {
	end, isInt, ok := scanNumber(p.data, p.pos)
	if !ok {
		p.pos = end
		return nil, p.fail(ErrSyntax, "invalid number")
	}
	lit := string(p.data[p.pos:end])
	if len(lit) > p.lim.MaxNumberLen {
		return nil, p.fail(ErrNumber, "number literal too long")
	}
	if !p.lim.AnyNumber {
		if err := numberInRange(lit, isInt); err != nil {
			return nil, p.fail(ErrNumber, err.Error())
		}
	}
	p.pos = end
	return json.Number(lit), nil
}

// scanNumber reads the longest JSON number literal (RFC 8259 grammar: no
// leading zeros, '+', hex, "inf" or underscores) starting at d[i]. It returns
// the end offset, whether the literal is an integer (no fraction, no
// exponent), and false if d[i:] does not start with a valid number (end is
// then where the grammar failed).
func scanNumber(d []byte, i int) (end int, isInt, ok bool) {
	if i < len(d) && d[i] == '-' {
		i++
	}
	if i >= len(d) {
		return i, false, false
	}
	if d[i] == '0' {
		i++
	} else if d[i] >= '1' && d[i] <= '9' {
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	} else {
		return i, false, false
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return i, false, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return i, false, false
		}
	}
	return i, isInt, true
}

func numberInRange(lit string, isInt bool) error {
	if isInt {
		if _, err := strconv.ParseInt(lit, 10, 64); err != nil {
			return errors.New("integer outside int64")
		}
		return nil
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		return errors.New("number outside float64")
	}
	return nil
}

// ParseNumber checks that s, in full, is a JSON number literal (RFC 8259:
// no '+', leading zeros, hex, "inf", "NaN" or underscores, which
// strconv.ParseFloat would accept) within the range Parse enforces: integers
// in int64, other numbers finite in float64. It returns the literal as a
// json.Number and whether it is an integer literal (no fraction or exponent:
// "1e3" is a number, not an integer). The error wraps ErrSyntax or ErrNumber.
// Used wherever a string from the request (path, query, form field) becomes
// a number for schema validation, so every input path agrees with Parse.
func ParseNumber(s string) (n json.Number, isInt bool, err error) {
	end, isInt, ok := scanNumber([]byte(s), 0)
	if !ok || end != len(s) {
		return "", false, fmt.Errorf("%w: %q is not a json number", ErrSyntax, s)
	}
	if err := numberInRange(s, isInt); err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrNumber, err)
	}
	return json.Number(s), isInt, nil
}
