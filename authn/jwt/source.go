package jwt

import (
	"fmt"
	"net/http"
	"strings"
)

// SourceKind says where a token is carried.
type SourceKind int

const (
	// Bearer: `Authorization: Bearer <token>` (scheme matched case-insensitively).
	Bearer SourceKind = iota
	// Header: a named header holding the bare token.
	Header
	// Cookie: a named cookie.
	Cookie
	// Query: a named query parameter (leaks into logs and Referer; avoid).
	Query
)

// TokenSource is one place a token may be carried. The zero value is Bearer.
type TokenSource struct {
	Kind SourceKind
	Name string // header, cookie or query parameter name (not for Bearer)
}

// String returns the source in the form ParseTokenSource accepts.
func (s TokenSource) String() string {
	switch s.Kind {
	case Header:
		return "header:" + s.Name
	case Cookie:
		return "cookie:" + s.Name
	case Query:
		return "query:" + s.Name
	}
	return "bearer"
}

// ParseTokenSource parses "bearer" (or ""), "header:NAME", "cookie:NAME" or
// "query:NAME".
func ParseTokenSource(s string) (TokenSource, error) {
	if s == "" || strings.EqualFold(s, "bearer") {
		return TokenSource{}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return TokenSource{}, fmt.Errorf("token source %q: want bearer, header:NAME, cookie:NAME or query:NAME", s)
	}
	switch strings.ToLower(kind) {
	case "header":
		if strings.EqualFold(name, "Authorization") {
			return TokenSource{}, nil
		}
		return TokenSource{Kind: Header, Name: http.CanonicalHeaderKey(name)}, nil
	case "cookie":
		return TokenSource{Kind: Cookie, Name: name}, nil
	case "query":
		return TokenSource{Kind: Query, Name: name}, nil
	}
	return TokenSource{}, fmt.Errorf("token source %q: unknown kind %q", s, kind)
}

// extraQuery is the RFC 6750 query parameter; a token there is counted even
// when no issuer reads it, so that header+query smuggling is refused.
const extraQuery = "access_token"

// found is a token and the index of the source it came from (-1: a carrier
// no issuer reads).
type found struct {
	src   int
	token string
}

// extract finds every token a request carries in the given sources (and the
// standard carriers). It returns errMultiple when there is more than one:
// two Authorization headers, a header and a query parameter, a repeated
// cookie, and so on.
func extract(r *http.Request, sources []TokenSource) (found, int) {
	var got []found
	add := func(src int, tok string) { got = append(got, found{src, tok}) }
	bearerIdx := -1
	var query map[string][]string
	for i, s := range sources {
		switch s.Kind {
		case Bearer:
			bearerIdx = i
		case Header:
			for _, v := range r.Header.Values(s.Name) {
				add(i, strings.TrimSpace(v))
			}
		case Cookie:
			for _, c := range r.Cookies() {
				if c.Name == s.Name {
					add(i, c.Value)
				}
			}
		case Query:
			if query == nil {
				query = r.URL.Query()
			}
			for _, v := range query[s.Name] {
				add(i, v)
			}
		}
	}
	auth := r.Header.Values("Authorization")
	bearers := 0
	for _, v := range auth {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, "bearer") {
			bearers++
			add(bearerIdx, strings.TrimSpace(rest))
		}
	}
	if bearers > 0 && len(auth) > 1 {
		return found{}, 2 // a bearer token beside another Authorization header
	}
	configuredExtra := false
	for _, s := range sources {
		if s.Kind == Query && s.Name == extraQuery {
			configuredExtra = true
		}
	}
	if !configuredExtra && r.URL.RawQuery != "" {
		if query == nil {
			query = r.URL.Query()
		}
		for _, v := range query[extraQuery] {
			add(-1, v)
		}
	}
	if len(got) != 1 {
		return found{}, len(got)
	}
	return got[0], 1
}
