package scan

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// excerptLen bounds the body part of an evidence excerpt.
const excerptLen = 1500

var (
	jwtRe        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	tokenFieldRe = regexp.MustCompile(`(?i)("(?:access_|refresh_|id_)?token"\s*:\s*")([^"]{4,})(")`)
)

var secretHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "X-Auth-Token": true, "X-Csrf-Token": true,
}

// RedactHeader returns the value to show for header k: credentials keep only
// their scheme ("Bearer <redacted>").
func RedactHeader(k, v string) string {
	if !secretHeaders[http.CanonicalHeaderKey(k)] {
		return RedactText(v)
	}
	if scheme, _, ok := strings.Cut(v, " "); ok && len(scheme) < 16 {
		return scheme + " <redacted>"
	}
	return "<redacted>"
}

// RedactText masks JWTs and "token" JSON fields in s.
func RedactText(s string) string {
	s = jwtRe.ReplaceAllStringFunc(s, func(t string) string { return t[:min(len(t), 10)] + "…<redacted-jwt>" })
	return tokenFieldRe.ReplaceAllString(s, `${1}<redacted>${3}`)
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + fmt.Sprintf("\n… (%d more bytes)", len(b)-n)
}

func writeHeaders(sb *strings.Builder, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(sb, "%s: %s\n", k, RedactHeader(k, v))
		}
	}
}

// Evidence returns the redacted request/response excerpt of e with a note.
func (e *Exchange) Evidence(note string) Evidence {
	var rq, rs strings.Builder
	fmt.Fprintf(&rq, "%s %s\n", e.Request.Method, e.Request.URL)
	writeHeaders(&rq, e.Request.Header)
	if len(e.Request.Body) > 0 {
		rq.WriteString("\n" + RedactText(truncate(e.Request.Body, excerptLen)))
	}
	fmt.Fprintf(&rs, "HTTP %d %s\n", e.Status, http.StatusText(e.Status))
	writeHeaders(&rs, e.Header)
	if len(e.Body) > 0 {
		rs.WriteString("\n" + RedactText(truncate(e.Body, excerptLen)))
	}
	return Evidence{Note: note, Request: strings.TrimRight(rq.String(), "\n"), Response: strings.TrimRight(rs.String(), "\n")}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Curl returns a curl command reproducing the request. Credentials are
// replaced by shell variables ($TOKEN_ALICE) so the command can be shared.
func (r *Request) Curl() string {
	var sb strings.Builder
	sb.WriteString("curl -i")
	if r.Method != "GET" {
		sb.WriteString(" -X " + r.Method)
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			if secretHeaders[http.CanonicalHeaderKey(k)] {
				name := "TOKEN"
				if r.Identity != "" {
					name += "_" + strings.ToUpper(sanitizeVar(r.Identity))
				}
				if scheme, _, ok := strings.Cut(v, " "); ok && len(scheme) < 16 {
					v = scheme + " $" + name
				} else {
					v = "$" + name
				}
				sb.WriteString(` -H "` + k + ": " + v + `"`)
				continue
			}
			sb.WriteString(" -H " + shellQuote(k+": "+RedactText(v)))
		}
	}
	if len(r.Body) > 0 {
		sb.WriteString(" --data-raw " + shellQuote(RedactText(truncate(r.Body, 4096))))
	}
	sb.WriteString(" " + shellQuote(r.URL))
	return sb.String()
}

func sanitizeVar(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
