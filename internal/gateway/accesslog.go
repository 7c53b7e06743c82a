package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// accessFields is one access log line before encoding.
type accessFields struct {
	requestID, method, path, operationID string
	status                               int
	stage, reason, subject               string
	latencyMS                            float64
	bytes                                int64
	clientIP                             netip.Addr
	monitored                            []string
	aborted                              bool
	attrs                                map[string]string
}

// slogAttrs is the line as slog attributes, for a logger that is not the
// gateway's own JSON output (text format, a library caller's handler).
func (f *accessFields) slogAttrs(buf []slog.Attr) []slog.Attr {
	attrs := append(buf[:0],
		slog.String("request_id", f.requestID),
		slog.String("method", f.method),
		slog.String("path", f.path),
		slog.String("operation_id", f.operationID),
		slog.Int("status", f.status),
		slog.String("stage", f.stage),
		slog.String("reason", f.reason),
		slog.String("subject", f.subject),
		slog.Float64("latency_ms", f.latencyMS),
		slog.Int64("bytes", f.bytes),
		slog.String("client_ip", f.clientIP.String()),
		slog.Any("monitored", f.monitored),
	)
	if f.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	if len(f.attrs) > 0 {
		keys := sortedKeys(f.attrs)
		extra := make([]any, 0, len(keys))
		for _, k := range keys {
			extra = append(extra, slog.String(k, f.attrs[k]))
		}
		attrs = append(attrs, slog.Group("attrs", extra...))
	}
	return attrs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// accessBufs recycles the line buffers of appendAccessJSON's callers.
var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeAccessJSON writes f to w as one line, byte for byte what
// slog.NewJSONHandler(w, nil) writes for the access logger
// (log.With("component", "access").LogAttrs(ctx, slog.LevelInfo, "request",
// f.slogAttrs(nil)...)) at time t, without allocating: the hot path's own
// encoder (TestAccessJSONMatchesSlog, FuzzAccessJSON). One Write per line,
// as internal/logbuf requires.
func writeAccessJSON(w io.Writer, t time.Time, f *accessFields) {
	bp := accessBufs.Get().(*[]byte)
	b := appendAccessJSON((*bp)[:0], t, f)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 { // a huge line (many attrs) is not kept
		*bp = b
		accessBufs.Put(bp)
	}
}

func appendAccessJSON(b []byte, t time.Time, f *accessFields) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano) // slog's JSON time (years 0-9999: time.Now)
	b = append(b, `","level":"INFO","msg":"request","component":"access","request_id":`...)
	b = appendJSONString(b, f.requestID)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, f.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, f.path)
	b = append(b, `,"operation_id":`...)
	b = appendJSONString(b, f.operationID)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	b = append(b, `,"stage":`...)
	b = appendJSONString(b, f.stage)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, f.reason)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, f.subject)
	b = append(b, `,"latency_ms":`...)
	b = appendJSONFloat(b, f.latencyMS)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, f.bytes, 10)
	b = append(b, `,"client_ip":"`...)
	if f.clientIP.IsValid() {
		b = f.clientIP.AppendTo(b) // digits, hex, ':', '.', '%' and a zone: escaped below if need be
		b = escapeTail(b, f.clientIP)
	} else {
		b = append(b, "invalid IP"...)
	}
	b = append(b, `","monitored":`...)
	if f.monitored == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range f.monitored {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMarshalString(b, m)
		}
		b = append(b, ']')
	}
	if f.aborted {
		b = append(b, `,"aborted":true`...)
	}
	if len(f.attrs) > 0 {
		b = append(b, `,"attrs":{`...)
		for i, k := range sortedKeys(f.attrs) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, f.attrs[k])
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

// escapeTail re-encodes an IPv6 zone (attacker-free in practice: it comes
// from the socket) when it holds a byte JSON must escape.
func escapeTail(b []byte, ip netip.Addr) []byte {
	z := ip.Zone()
	if z == "" {
		return b
	}
	for i := 0; i < len(z); i++ {
		if c := z[i]; c < utf8.RuneSelf && safeSet[c] {
			continue
		}
		s := ip.String()
		b = b[:len(b)-len(s)]
		q := appendJSONString(nil, s)
		return append(b, q[1:len(q)-1]...)
	}
	return b
}

// appendJSONFloat formats f as encoding/json does (slog marshals floats
// with it).
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		f = 0 // never a latency; json.Marshal would fail
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// invalidUTF8Slog and invalidUTF8Marshal are what this toolchain's slog JSON
// handler and encoding/json write for a byte that is not UTF-8: `\ufffd` up
// to Go 1.26, the character U+FFFD itself from Go 1.27 (CI's toolchain).
// Taken from the libraries at start so the encoder stays byte-identical to
// slog under either.
var invalidUTF8Slog, invalidUTF8Marshal = func() (string, string) {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("", "s", "\xff")
	m, _ := json.Marshal("\xff")
	inner := func(s, pre, suf string) string {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, pre) || !strings.HasSuffix(s, suf) {
			return `\ufffd`
		}
		return s[len(pre) : len(s)-len(suf)]
	}
	return inner(buf.String(), `{"s":"`, `"}`), inner(string(m), `"`, `"`)
}()

// appendJSONString is slog's JSON string encoding: quoted, '"', '\\' and
// control bytes escaped (\n, \r, \t by name, others as \u00XX), invalid
// UTF-8 as slog writes it (invalidUTF8Slog), U+2028 and U+2029 escaped, HTML characters kept.
func appendJSONString(b []byte, s string) []byte {
	return appendQuoted(b, s, false)
}

// appendMarshalString is encoding/json's string encoding without HTML
// escaping (slog.Any on a []string): like appendJSONString but also \b and
// \f by name.
func appendMarshalString(b []byte, s string) []byte {
	return appendQuoted(b, s, true)
}

func appendQuoted(b []byte, s string, bf bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safeSet[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '\\' || c == '"':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case bf && c == '\b':
				b = append(b, '\\', 'b')
			case bf && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			if bf {
				b = append(b, invalidUTF8Marshal...)
			} else {
				b = append(b, invalidUTF8Slog...)
			}
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// safeSet marks the ASCII bytes a JSON string holds unescaped: every
// printable byte except '"' and '\\' (HTML characters included, as slog
// and json.Encoder with SetEscapeHTML(false) write them).
var safeSet = func() (s [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
	}
	return s
}()
