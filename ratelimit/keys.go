package ratelimit

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/httpx"
)

// ClientIPFunc returns the client address of a request. The gateway passes
// its trusted-proxy resolver (X-Forwarded-For honoured only from trusted
// peers, right-most untrusted hop); the default is the TCP peer, which a
// client cannot spoof.
type ClientIPFunc func(*http.Request) netip.Addr

// Key derives a limit's bucket key from a request. Build one with
// ParseKey or the Key* constructors and combine them with Combine. Values
// are length-prefixed, so no choice of header or claim value can make two
// different key tuples collide. A Key is immutable and safe for concurrent use.
type Key struct {
	kind  string
	parts []keyPart
	def   string // the config words (ParseKey), for state kept across reloads
}

// keyPart appends one part of a key. An error means the part could not be
// computed (a CEL expression failed): the part has then appended its fixed
// error bucket, so the key is still usable and fails closed.
type keyPart func(r *http.Request, dst []byte) ([]byte, error)

// Kind names the key for logs and records, e.g. "ip" or "operation+ip".
func (k Key) Kind() string { return k.kind }

// Append appends the key of r to dst. A part that cannot be computed (a
// CEL expression that fails on this request) appends its fixed error
// bucket instead; AppendErr also reports the error.
func (k Key) Append(dst []byte, r *http.Request) []byte {
	dst, _ = k.AppendErr(dst, r)
	return dst
}

// AppendErr is Append that also returns the first part's error (the key is
// complete and usable either way: a failed part contributes its fixed
// error bucket, never an empty or unbounded value).
func (k Key) AppendErr(dst []byte, r *http.Request) ([]byte, error) {
	var first error
	for _, p := range k.parts {
		var err error
		dst, err = p(r, dst)
		if err != nil && first == nil {
			first = err
		}
	}
	return dst, first
}

// String returns the key of r.
func (k Key) String(r *http.Request) string { return string(k.Append(nil, r)) }

func appendField(dst []byte, tag byte, v string) []byte {
	dst = append(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func orPeer(ip ClientIPFunc) ClientIPFunc {
	if ip != nil {
		return ip
	}
	return httpx.PeerAddr
}

// appendIP keys IPv4 addresses whole and IPv6 addresses by their /64, the
// smallest block a single subscriber usually gets: otherwise one client
// could rotate through 2^64 addresses, each with a fresh bucket.
func appendIP(dst []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	dst = append(dst, 'i')
	b := a.AsSlice()
	dst = append(dst, byte(len(b)))
	return append(dst, b...)
}

// KeyIP keys by client address (IPv6 by /64).
func KeyIP(ip ClientIPFunc) Key {
	ip = orPeer(ip)
	return Key{kind: "ip", parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		return appendIP(dst, ip(r)), nil
	}}}
}

// KeyUser keys by the authenticated principal's subject; anonymous requests
// fall back to the client address, in their own namespace.
func KeyUser(ip ClientIPFunc) Key {
	ip = orPeer(ip)
	return Key{kind: "user", parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		if p := authn.PrincipalFrom(r.Context()); p != nil && p.Subject != "" {
			dst = appendField(dst, 'u', p.Issuer)
			return appendField(dst, 'u', p.Subject), nil
		}
		return appendIP(dst, ip(r)), nil
	}}}
}

// KeyAPIKey keys by the API key a request authenticated with (the API-key
// authenticator's Subject, which identifies the key without revealing it);
// other requests fall back to the client address.
func KeyAPIKey(ip ClientIPFunc) Key {
	ip = orPeer(ip)
	return Key{kind: "api_key", parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		if p := authn.PrincipalFrom(r.Context()); p != nil && p.Method == "api_key" && p.Subject != "" {
			return appendField(dst, 'k', p.Subject), nil
		}
		return appendIP(dst, ip(r)), nil
	}}}
}

// KeyOperation keys by the matched spec operation (gatehouse.Route), so
// every spelling of a path that routes to the same operation shares one
// bucket. Unrouted requests share the bucket "".
func KeyOperation() Key {
	return Key{kind: "operation", parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		op := ""
		if rt := gatehouse.RouteFrom(r.Context()); rt != nil {
			op = rt.OperationID
		}
		return appendField(dst, 'o', op), nil
	}}}
}

// KeyHeader keys by the first value of header name (missing: ""). Header
// values are chosen by the client: use it only for headers set by a trusted
// hop, or combine it with ip or user.
func KeyHeader(name string) Key {
	name = http.CanonicalHeaderKey(name)
	return Key{kind: "header:" + name, parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		return appendField(dst, 'h', r.Header.Get(name)), nil
	}}}
}

// KeyClaim keys by a claim of the authenticated principal (non-strings as
// JSON); anonymous requests and principals without the claim fall back to
// the client address.
func KeyClaim(name string, ip ClientIPFunc) Key {
	ip = orPeer(ip)
	return Key{kind: "claim:" + name, parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		if p := authn.PrincipalFrom(r.Context()); p != nil {
			if v, ok := p.Claims[name]; ok && v != nil {
				s, isStr := v.(string)
				if !isStr {
					b, _ := json.Marshal(v)
					s = string(b)
				}
				return appendField(dst, 'c', s), nil
			}
		}
		return appendIP(dst, ip(r)), nil
	}}}
}

// Combine keys by every part in order, e.g. Combine(KeyOperation(), KeyIP(nil)).
func Combine(keys ...Key) Key {
	var k Key
	kinds := make([]string, 0, len(keys))
	for _, x := range keys {
		kinds = append(kinds, x.kind)
		k.parts = append(k.parts, x.parts...)
	}
	k.kind = strings.Join(kinds, "+")
	return k
}

// ParseKey builds a Key from config words: "ip", "api_key", "user",
// "operation", "header:NAME", "claim:NAME", "cel:<expr>" (see KeyCEL;
// everything after the first colon is the expression); several words
// combine. A cel: expression is compiled and type-checked here, so a bad
// one fails at load time.
func ParseKey(words []string, ip ClientIPFunc) (Key, error) {
	if len(words) == 0 {
		return Key{}, fmt.Errorf("ratelimit: empty key")
	}
	keys := make([]Key, 0, len(words))
	for _, w := range words {
		kind, arg, _ := strings.Cut(strings.TrimSpace(w), ":")
		switch {
		case kind == "ip" && arg == "":
			keys = append(keys, KeyIP(ip))
		case kind == "user" && arg == "":
			keys = append(keys, KeyUser(ip))
		case kind == "api_key" && arg == "":
			keys = append(keys, KeyAPIKey(ip))
		case kind == "operation" && arg == "":
			keys = append(keys, KeyOperation())
		case kind == "header" && arg != "":
			keys = append(keys, KeyHeader(arg))
		case kind == "claim" && arg != "":
			keys = append(keys, KeyClaim(arg, ip))
		case kind == "cel" && strings.TrimSpace(arg) != "":
			k, err := KeyCEL(arg, ip)
			if err != nil {
				return Key{}, err
			}
			keys = append(keys, k)
		default:
			return Key{}, fmt.Errorf("ratelimit: unknown key %q (want ip, api_key, user, operation, header:NAME, claim:NAME or cel:EXPR)", w)
		}
	}
	k := Combine(keys...)
	k.def = strings.Join(words, "\x1f")
	return k, nil
}
