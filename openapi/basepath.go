package openapi

import (
	"fmt"
	"net/url"
	"strings"
)

// BasePath returns the path prefix the document's servers put before every
// path template: "/v1" for `servers: [{url: https://api.example.com/v1}]`,
// "" when the servers have no path (or there are none). Server variables
// are replaced by their defaults. Servers that disagree on the path are an
// error: the gateway cannot guess which prefix clients use, and the config
// must say (base_path).
func (s *Spec) BasePath() (string, error) {
	if s == nil || Model(s) == nil {
		return "", nil
	}
	base, first := "", true
	for i, srv := range Model(s).Servers {
		u := srv.URL
		if srv.Variables != nil {
			for name, v := range srv.Variables.FromOldest() {
				u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
			}
		}
		p, err := serverPath(u)
		if err != nil {
			return "", fmt.Errorf("openapi: /servers/%d/url %q: %w", i, srv.URL, err)
		}
		if first {
			base, first = p, false
		} else if p != base {
			return "", fmt.Errorf("openapi: servers disagree on the base path (%q and %q): set base_path", base, p)
		}
	}
	return base, nil
}

// serverPath returns the path part of a server URL (absolute, or relative
// to the document as OpenAPI allows), without a trailing slash.
func serverPath(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	p := pu.EscapedPath()
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	p = strings.TrimRight(p, "/")
	if err := CheckBasePath(p); err != nil {
		return "", err
	}
	return p, nil
}

// CheckBasePath reports a base path that cannot be matched literally: it
// must be "" or start with '/', not end with '/', and every segment must
// already be in the router's canonical form (no dot segments, no escapes
// that decode to separators), so the prefix comparison on the raw request
// path is exact.
func CheckBasePath(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' || strings.HasSuffix(p, "/") {
		return fmt.Errorf("base path %q must start with '/' and not end with '/'", p)
	}
	var buf [8]string
	if _, reencode, err := canonicalize(p, buf[:0]); err != nil || reencode {
		return fmt.Errorf("base path %q is not a canonical path (no dot segments, %%-escapes or reserved characters)", p)
	}
	return nil
}

// TrimBasePath removes base from the raw request path rawPath. ok is false
// when rawPath is not under base: the prefix must match byte for byte and
// be followed by '/' ("/v1" covers "/v1/x" and "/v1/", not "/v10/x",
// "/V1/x" or "/v1" itself, which no template can match without guessing a
// trailing slash).
func TrimBasePath(base, rawPath string) (rest string, ok bool) {
	if base == "" {
		return rawPath, true
	}
	if !strings.HasPrefix(rawPath, base) {
		return "", false
	}
	rest = rawPath[len(base):]
	if rest == "" || rest[0] != '/' {
		return "", false
	}
	return rest, true
}
