package openapi

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPathLength is the longest raw request path (before '?') that Match
// accepts; longer paths are ErrBadPath. No sane API route is 8 KiB long.
const MaxPathLength = 8192

// byte classes of a raw path, see rawClass.
const (
	cBad    = iota // never allowed raw: controls, space, '"', '#', ';', '<', '>', '\\', '^', '`', '{', '|', '}', DEL
	cKeep          // unreserved and "$&:=@": canonical as is
	cEscape        // other pchar ("!'()*+,"): allowed raw, re-encoded in RawPath
	cPct           // '%'
	cHigh          // >= 0x80: raw UTF-8, validated, re-encoded
)

var rawClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 0x80:
			t[c] = cHigh
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~$&:=@", byte(c)) >= 0:
			t[c] = cKeep
		case strings.IndexByte("!'()*+,", byte(c)) >= 0:
			t[c] = cEscape
		case c == '%':
			t[c] = cPct
		default:
			t[c] = cBad
		}
	}
	return t
}()

// decodedBad reports a byte that must not appear in a decoded segment,
// whether it arrived raw or percent-encoded: '/' and '\\' (segment
// separators for some upstreams), ';' (matrix parameters), NUL and every
// other control character.
func decodedBad(b byte) bool {
	return b < 0x20 || b == 0x7f || b == '/' || b == '\\' || b == ';'
}

// canonicalize applies the one normalization policy (see the package doc)
// to rawPath and appends its decoded segments to segs. "/" yields one empty
// segment, "/users/" yields "users" and "". reencode reports whether the
// canonical encoding (escapeSegment of every segment) may differ from
// rawPath; when false, rawPath is already canonical.
func canonicalize(rawPath string, segs []string) (out []string, reencode bool, err error) {
	if i := strings.IndexByte(rawPath, '?'); i >= 0 {
		rawPath = rawPath[:i]
	}
	if rawPath == "" || rawPath[0] != '/' || len(rawPath) > MaxPathLength {
		// empty, "*" (OPTIONS *), absolute-form ("http://host/x"), or too long
		return segs, false, ErrBadPath
	}
	p := rawPath[1:]
	for {
		i := strings.IndexByte(p, '/')
		seg := p
		if i >= 0 {
			seg = p[:i]
			if seg == "" {
				return segs, false, ErrBadPath // "//": duplicate slash
			}
		}
		dec, changed, err := decodeSegment(seg)
		if err != nil {
			return segs, false, err
		}
		reencode = reencode || changed
		segs = append(segs, dec)
		if i < 0 {
			return segs, reencode, nil
		}
		p = p[i+1:]
	}
}

// decodeSegment validates and fully percent-decodes one raw segment (no '/').
// changed reports that the segment is not in canonical encoded form.
func decodeSegment(seg string) (dec string, changed bool, err error) {
	slow := false
	for i := 0; i < len(seg); i++ {
		switch rawClass[seg[i]] {
		case cBad:
			return "", false, ErrBadPath
		case cEscape:
			changed = true
		case cPct, cHigh:
			slow = true
		}
	}
	dec = seg
	if slow {
		changed = true
		if dec, err = decodeSlow(seg); err != nil {
			return "", false, err
		}
	}
	if strings.TrimRight(dec, ". ") == "" && dec != "" {
		// ".", "..", plain or encoded, and the Windows aliases of them
		// ("...", ". .", ".. "): a segment made only of dots and spaces
		return "", false, ErrBadPath
	}
	return dec, changed, nil
}

func decodeSlow(seg string) (string, error) {
	b := make([]byte, 0, len(seg))
	high := false
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '%' {
			if i+2 >= len(seg) {
				return "", ErrBadPath // truncated escape
			}
			h, l := unhex(seg[i+1]), unhex(seg[i+2])
			if h < 0 || l < 0 {
				return "", ErrBadPath // "%zz", "%-1"...
			}
			c = byte(h<<4 | l)
			i += 2
			if decodedBad(c) {
				return "", ErrBadPath // %2F %5C %3B %00 %0A ...
			}
		}
		if c >= 0x80 {
			high = true
		}
		b = append(b, c)
	}
	if high {
		if err := checkUnicode(b); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

// checkUnicode rejects invalid UTF-8 (which includes overlong forms such as
// C0 AE for '.', and surrogates) and characters whose NFKC compatibility
// decomposition contains a path-structural ASCII character ("./\\;%#?") or
// a control: FULLWIDTH FULL STOP U+FF0E, FULLWIDTH SOLIDUS U+FF0F, ONE DOT
// LEADER U+2024, SMALL FULL STOP U+FE52 and friends. An upstream that
// normalizes Unicode would otherwise see a dot segment or a slash the
// gateway never matched.
func checkUnicode(b []byte) error {
	if !utf8.Valid(b) {
		return ErrBadPath
	}
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			i++
			continue
		}
		_, n := utf8.DecodeRune(b[i:])
		for _, c := range norm.NFKC.Properties(b[i : i+n]).Decomposition() {
			if c < 0x80 && (decodedBad(c) || c == '.' || c == '%' || c == '#' || c == '?') {
				return ErrBadPath
			}
		}
		i += n
	}
	return nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

const upperhex = "0123456789ABCDEF"

// appendEscaped appends the canonical encoding of a decoded segment: bytes
// of class cKeep (unreserved and "$&:=@") stay as they are, every other
// byte becomes %XX with upper-case hex. These are url.PathEscape's rules
// except that '+' is also encoded, because some upstream decoders turn a
// raw '+' in a path into a space.
func appendEscaped(dst []byte, seg string) []byte {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if rawClass[c] == cKeep {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
	}
	return dst
}

// RequestPath returns the path of r's request-target exactly as the client
// sent it (before '?'), which is what Match expects: RequestURI for
// origin-form requests, the path part of an absolute-form target
// ("GET http://host/a/b"), and "*" for "OPTIONS *". For requests built in
// process (RequestURI empty) it falls back to r.URL.EscapedPath().
func RequestPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		if r.URL == nil {
			return ""
		}
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if uri == "" || uri[0] == '/' || uri == "*" {
		return uri
	}
	// absolute-form: scheme "://" authority path
	if i := strings.Index(uri, "://"); i > 0 {
		rest := uri[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return uri
}
