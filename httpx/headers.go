package httpx

import (
	"net/http"
	"strings"
)

// IdentityHeaderPrefix starts every identity header the gateway itself sends
// upstream (verified subject, roles...). Clients may never send one.
const IdentityHeaderPrefix = "x-gatehouse-"

// normName lower-cases a header name and maps '_' to '-', the way CGI, WSGI,
// Rack and some proxies fold names, so "X_Gatehouse_Sub" and
// "x-gatehouse-sub" are the same header to an upstream.
func normName(k string) string {
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

// appendNorm appends normName(k) to dst without allocating (when dst has
// room) for ASCII names, which every name net/http accepts is; ok is false
// for a name with a non-ASCII byte, which the caller folds with normName.
func appendNorm(dst []byte, k string) (b []byte, ok bool) {
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 0x80:
			return dst, false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// StripIdentityHeaders deletes every header of h that an upstream could read
// as a gatehouse identity header, whatever its case or '_'/'-' spelling, and
// reports how many it removed.
func StripIdentityHeaders(h http.Header) int { return StripIdentity(h, nil) }

// IdentityNames folds configured identity header names (X-User-Id...) for
// StripIdentity; empty names are left out.
func IdentityNames(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		if n != "" {
			m[normName(n)] = true
		}
	}
	return m
}

// StripIdentity is the one implementation of identity-header removal: it
// deletes every header of h in the X-Gatehouse- namespace or named in
// names (from IdentityNames), whatever its case or '_'/'-' spelling, and
// reports how many it removed. The gateway applies it once, at its entry,
// with the configured names; authn.Middleware applies it again for users of
// the library without the gateway (idempotent).
func StripIdentity(h http.Header, names map[string]bool) int {
	n := 0
	var buf [64]byte
	for k := range h {
		b, ok := appendNorm(buf[:0], k)
		if !ok {
			b = []byte(normName(k))
		}
		if strings.HasPrefix(string(b), IdentityHeaderPrefix) || names[string(b)] {
			delete(h, k)
			n++
		}
	}
	return n
}

// forwardingHeaders are request headers that claim something about the
// client's address, protocol or host; only a trusted proxy may send them.
var forwardingHeaders = []string{
	"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
	"x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl", "x-forwarded-scheme", "x-real-ip",
	"x-client-ip", "true-client-ip", "x-original-forwarded-for", "x-cluster-client-ip", "cf-connecting-ip",
	"fastly-client-ip", "x-forwarded", "forwarded-for", "x-originating-ip", "x-remote-ip", "x-remote-addr",
}

// IsForwardingHeader reports whether name (any case, '_' or '-') is a
// forwarding header such as X-Forwarded-For, Forwarded or X-Real-IP.
func IsForwardingHeader(name string) bool {
	var buf [64]byte
	b, ok := appendNorm(buf[:0], name)
	if !ok {
		b = []byte(normName(name))
	}
	for _, f := range forwardingHeaders {
		if string(b) == f {
			return true
		}
	}
	return false
}

// StripForwardingHeaders deletes every forwarding header from h (any spelling).
func StripForwardingHeaders(h http.Header) {
	for k := range h {
		if IsForwardingHeader(k) {
			delete(h, k)
		}
	}
}

// SafeRequestID reports whether an incoming X-Request-ID may be reused: 1 to
// 64 characters of [A-Za-z0-9._-]. Anything else (log injection, huge
// values) is replaced by a fresh ID.
func SafeRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// overrideHeaders ask a server to treat the request as another method or URL.
