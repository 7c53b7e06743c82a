// Package inspect detects injection payloads in free-form strings: SQL
// injection and XSS with libinjection, NoSQL operator keys and operator
// syntax, shell metacharacters and path traversal.
//
// It is a second line behind the contract: the gateway only inspects strings
// the schema cannot constrain (no pattern, enum, format or const). The SQLi and
// XSS checks are libinjection (corazawaf/libinjection-go): tokenizer based, no
// regex backtracking, the same engine as ModSecurity/Coraza's @detectSQLi, with
// a low false-positive rate on prose. The SQL checks also run on the
// decodings an upstream may still apply (Variants). Values that should be
// plain identifiers (path segments, short tokens) can add SQLGrammar, a
// small SQL lexer that flags any SQL structure: too strict for prose, it
// closes the fragments libinjection lets through (ORDER BY 3--, AND 1=1).
// Shell and traversal checks flag ordinary punctuation, so they run only on
// fields the operator marks.
//
// All functions are pure and safe for concurrent use.
package inspect

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/corazawaf/libinjection-go"
)

// Kind names a family of injection.
type Kind string

// Injection families reported by the checks.
const (
	SQLi      Kind = "sqli"
	XSS       Kind = "xss"
	NoSQL     Kind = "nosql"
	Shell     Kind = "shell"
	Traversal Kind = "traversal"
)

// Checks selects which checks String runs. The zero value runs none.
type Checks struct {
	SQLi, XSS, NoSQL bool
	// Shell and Traversal are for fields marked as passed to a shell or used
	// as a file path; on prose they would flag ordinary punctuation.
	Shell, Traversal bool
	// SQLGrammar adds the SQL-grammar check (see SQLGrammar) for values
	// that should be plain identifiers (path segments, short tokens): any
	// SQL structure in them is an attack. On prose it would flag phrases
	// such as "sorted in order by date", so it is for identifiers only.
	SQLGrammar bool
}

// Default is SQLi, XSS and NoSQL operator syntax: the set safe for any free
// string.
var Default = Checks{SQLi: true, XSS: true, NoSQL: true}

// Finding is one detection.
type Finding struct {
	Kind Kind
	// Fingerprint is libinjection's SQLi token fingerprint, when Kind is SQLi.
	Fingerprint string
	// Rule names the SQLGrammar rule that matched ("union select",
	// "tautology", ...), when the grammar check found it.
	Rule string
	// Decoded is set when the match was on a decoded variant of the value
	// (see Variants), not the value as received.
	Decoded bool
}

// String runs the selected checks on s and returns the first detection.
// s must already be decoded once (query parameters by net/url, JSON strings
// unescaped). The SQL checks also run on the decodings an upstream may
// still apply (Variants: a second percent-decoding, '+' as space,
// full-width and typographic quotes folded to ASCII); traversal decodes
// repeatedly, as encoded dot-dot sequences are the attack. Other checks
// see s as it is.
func (c Checks) String(s string) (Finding, bool) {
	if s == "" {
		return Finding{}, false
	}
	if c.SQLi || c.SQLGrammar {
		if f, ok := c.sqli(s); ok {
			return f, true
		}
		var buf [maxVariants]string
		for _, v := range Variants(s, buf[:0]) {
			if f, ok := c.sqli(v); ok {
				f.Decoded = true
				return f, true
			}
		}
	}
	// libinjection's HTML5 tokenizer is the costly part; a string with none
	// of < > = ` cannot open a tag, an attribute or a template literal.
	if c.XSS && strings.ContainsAny(s, "<>=`") && libinjection.IsXSS(s) {
		return Finding{Kind: XSS}, true
	}
	if c.NoSQL && (HasNoSQLOperator(s) || HasJSInjection(s)) {
		return Finding{Kind: NoSQL}, true
	}
	if c.Shell && HasShellMeta(s) {
		return Finding{Kind: Shell}, true
	}
	if c.Traversal && HasTraversal(s) {
		return Finding{Kind: Traversal}, true
	}
	return Finding{}, false
}

func (c Checks) sqli(s string) (Finding, bool) {
	if c.SQLi {
		if ok, fp := libinjection.IsSQLi(s); ok {
			return Finding{Kind: SQLi, Fingerprint: fp}, true
		}
	}
	if c.SQLGrammar {
		if rule, ok := SQLGrammar(s); ok {
			return Finding{Kind: SQLi, Rule: rule}, true
		}
	}
	return Finding{}, false
}

// maxVariants bounds the decoded variants Variants returns.
const maxVariants = 4

// quoteFold maps the characters an upstream may turn into SQL quotes or
// dashes: full-width forms (NFKC normalization in Python/Java, the
// "best fit" code-page conversion of Windows/MSSQL clients) and the
// typographic quotes and primes that best-fit maps to ' and ".
var quoteFold = strings.NewReplacer(
	"\uff07", "'", "\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'", "\u2032", "'", "\u02bc", "'", "\u02b9", "'",
	"\uff02", "\"", "\u201c", "\"", "\u201d", "\"", "\u201e", "\"", "\u2033", "\"",
	"\uff40", "`", "\u2013", "-", "\u2014", "-", "\u2212", "-", "\uff0d", "-",
	"\uff08", "(", "\uff09", ")", "\uff1d", "=", "\uff1b", ";", "\uff03", "#", "\uff0c", ",", "\uff0a", "*",
	"\uff0f", "/", "\uff1c", "<", "\uff1e", ">", "\u3000", " ",
)

// Variants appends to dst the decodings of s an upstream may apply after
// the gateway's own (single) decoding, each only when it changes s: one
// more lenient percent-decoding (including overlong UTF-8 and %u00XX
// escapes: PHP's urldecode on $_GET, frameworks that decode path
// parameters twice), '+' as space (form decoding of a value taken from a
// path or a JSON string), and the fold of full-width and typographic
// quotes, dashes and punctuation to ASCII (NFKC, MSSQL best fit). The
// checks run on s first and then on each variant: a variant can only add
// detections.
func Variants(s string, dst []string) []string {
	if strings.IndexByte(s, '%') >= 0 {
		if d := normalizeOverlong(lenientUnescape(s)); d != s {
			dst = append(dst, d)
			if strings.IndexByte(d, '%') >= 0 {
				if d2 := normalizeOverlong(lenientUnescape(d)); d2 != d {
					dst = append(dst, d2)
				}
			}
		}
	}
	if strings.IndexByte(s, '+') >= 0 {
		dst = append(dst, strings.ReplaceAll(s, "+", " "))
	}
	if hasFoldable(s) {
		if f := quoteFold.Replace(s); f != s {
			dst = append(dst, f)
		}
	}
	return dst
}

// hasFoldable is a cheap prefilter for quoteFold: all its sources are
// multi-byte runes starting with 0xCA, 0xE2, 0xE3 or 0xEF.
func hasFoldable(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0xca, 0xe2, 0xe3, 0xef:
			return true
		}
	}
	return false
}

// normalizeOverlong folds the overlong two-byte UTF-8 encodings of ASCII
// (0xC0 0xA7 for "'", 0xC0 0xA2 for '"', ...) that lenient decoders accept.
func normalizeOverlong(s string) string {
	if strings.IndexByte(s, 0xc0) < 0 && strings.IndexByte(s, 0xc1) < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == 0xc0 || c == 0xc1) && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			b = append(b, (c&0x1f)<<6|s[i+1]&0x3f)
			i++
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// mongoOperators are MongoDB query and aggregation operators an attacker uses
// to turn an equality match into a predicate.
var mongoOperators = map[string]bool{
	"$ne": true, "$eq": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true,
	"$in": true, "$nin": true, "$regex": true, "$where": true, "$exists": true,
	"$expr": true, "$or": true, "$and": true, "$not": true, "$nor": true,
	"$elemmatch": true, "$function": true, "$accumulator": true, "$type": true,
	"$size": true, "$all": true, "$options": true, "$text": true, "$search": true,
	"$mod": true, "$jsonschema": true, "$lookup": true, "$set": true, "$unset": true,
	"$inc": true, "$push": true, "$rename": true, "$comment": true,
}

// IsOperatorKey reports whether an object key is a NoSQL operator: a MongoDB
// operator (any case), or any key starting with '$' (no ordinary API field
// does; declared '$'-keys are allowed by the caller before it asks).
func IsOperatorKey(key string) bool { return strings.HasPrefix(key, "$") }

// IsKnownOperator reports whether key is a known MongoDB operator (any case).
func IsKnownOperator(key string) bool { return mongoOperators[strings.ToLower(key)] }

// QueryKey reports whether a query parameter name carries operator syntax,
// as in "password[$ne]=x" (PHP/Express qs bracket syntax that body parsers
// turn into {"password": {"$ne": "x"}}).
func QueryKey(name string) bool {
	for {
		i := strings.Index(name, "[")
		if i < 0 {
			return false
		}
		name = name[i+1:]
		j := strings.Index(name, "]")
		if j < 0 {
			return false
		}
		if strings.HasPrefix(strings.TrimSpace(name[:j]), "$") {
			return true
		}
		name = name[j+1:]
	}
}

// HasNoSQLOperator reports whether a string value contains MongoDB operator
// syntax: a known operator used as a key or bracket index ("$ne":, [$ne]) or
// server-side JavaScript via $where.
func HasNoSQLOperator(s string) bool {
	if !strings.Contains(s, "$") {
		return false
	}
	ls := strings.ToLower(s)
	for i := 0; i < len(ls); i++ {
		if ls[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(ls) && (ls[j] >= 'a' && ls[j] <= 'z') {
			j++
		}
		op := ls[i:j]
		if !mongoOperators[op] {
			continue
		}
		// Operator context: preceded by a quote, '{', '[' or ',' (JSON key,
		// bracket syntax) or followed by a quote, ']' or ':'.
		before := byte(' ')
		if i > 0 {
			before = ls[i-1]
		}
		after := byte(' ')
		if j < len(ls) {
			after = ls[j]
		}
		switch {
		case before == '"' || before == '\'' || before == '{' || before == '[' || before == ',',
			after == '"' || after == '\'' || after == ']' || after == ':':
			return true
		case op == "$where":
			return true
		}
	}
	return false
}

// jsInjection matches server-side JavaScript injected into a MongoDB $where
// or mapReduce string: quote breaking into a comparison or return, this.field
// access, db.collection calls and sleep-based timing.
var jsInjection = regexp.MustCompile(`(\bthis\.\w+\s*(\.\s*match\s*\(|[=!<>]=)|\bdb\.\w+\.\w+\s*\(|\b(?i:sleep)\s*\(\s*\d|['"]\s*;\s*(return|sleep|var|it\s*=)\b|['"]\s*(\|\||&&)\s*['"\w]|\|\|\s*1\s*==\s*1|^\s*\d+\s*;\s*return\s+true)`)

// HasJSInjection reports whether s looks like server-side JavaScript
// injection aimed at a NoSQL database.
// JavaScript is case-sensitive, so the match is too; a cheap prefilter
// keeps the regular expression off ordinary prose.
func HasJSInjection(s string) bool { return jsCandidate(s) && jsInjection.MatchString(s) }

func jsCandidate(s string) bool {
	for _, sub := range []string{"this.", "db.", "sleep", "SLEEP", "Sleep", "||", ";return", "; return"} {
		if strings.Contains(s, sub) {
			return true
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' && s[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && (s[j] == ';' || s[j] == '&') {
			return true
		}
	}
	return false
}

// HasShellMeta reports whether s contains shell metacharacters that chain,
// substitute, redirect or break out of quoting: ; | & ` $( ${ $VAR < > quotes,
// backslash, NUL and newlines.
func HasShellMeta(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';', '|', '&', '`', '<', '>', '\n', '\r', '\'', '"', '\\', 0:
			return true
		case '$':
			if i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{' || isIdentStart(s[i+1])) {
				return true
			}
		}
	}
	return false
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// HasTraversal reports whether s, a value used as a file name or path,
// tries to leave its directory. It is strict, for fields marked as paths: after
// up to four rounds of lenient percent decoding (and folding of overlong and
// full-width encodings of '.', '/' and '\'), any "..", NUL byte, invalid UTF-8,
// "0x2e"/"0x2f"/"0x5c" literal or escape that still cannot be decoded counts,
// and so does an absolute path ("/etc/passwd", "\\host\share", "C:\x",
// "C:x", "~/x"): Python's os.path.join and Java's Path.resolve drop the
// directory for one.
func HasTraversal(s string) bool {
	cur := s
	for round := 0; round < 4; round++ {
		n := normalizeSeparators(cur)
		if strings.Contains(n, "..") || strings.ContainsRune(n, 0) || !utf8.ValidString(n) || absolutePath(n) {
			return true
		}
		ln := strings.ToLower(n)
		if strings.Contains(ln, "0x2e") || strings.Contains(ln, "0x2f") || strings.Contains(ln, "0x5c") {
			return true
		}
		dec := lenientUnescape(cur)
		if dec == cur {
			break
		}
		cur = dec
	}
	return strings.Contains(cur, "%")
}

// absolutePath reports whether n (separators normalized to '/') is rooted:
// a leading '/', a drive letter ("C:", "c:/"), or a home-directory '~'.
func absolutePath(n string) bool {
	n = strings.TrimLeft(n, " \t")
	if strings.HasPrefix(n, "/") || strings.HasPrefix(n, "~") {
		return true
	}
	return len(n) >= 2 && n[1] == ':' && (n[0] >= 'a' && n[0] <= 'z' || n[0] >= 'A' && n[0] <= 'Z')
}

// lenientUnescape decodes every valid %XX (and IIS-style %u00XX) escape and
// leaves anything else as it is, so "%%32%65" becomes "%2e" (then "." on the
// next round) where a strict decoder would give up.
func lenientUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && s[i+2] == '0' && s[i+3] == '0' && isHex(s[i+4]) && isHex(s[i+5]) {
				b.WriteByte(unhex(s[i+4])<<4 | unhex(s[i+5]))
				i += 5
				continue
			}
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// normalizeSeparators folds backslashes and the overlong/unicode encodings
// of '.' and '/' that old decoders accepted.
func normalizeSeparators(s string) string {
	r := strings.NewReplacer(
		"\\", "/",
		"\xc0\xae", ".", "\xc0\xaf", "/", "\xc1\x9c", "/",
		"\u2215", "/", "\u2216", "/", "\uff0e", ".", "\uff0f", "/",
		"%c0%ae", ".", "%c0%af", "/", "%C0%AE", ".", "%C0%AF", "/",
		"%e0%80%ae", ".", "%e0%80%af", "/", "%25c0%25ae", ".", "%25c0%25af", "/",
	)
	return r.Replace(s)
}
