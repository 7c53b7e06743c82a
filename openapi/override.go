package openapi

import (
	"net/http"
	"strings"
)

// overrideHeaders are request headers that some frameworks and proxies honour
// to change the method or the path after routing (Symfony, Laravel, IIS
// URL Rewrite, old Spring/Rails middleware, Express method-override). The
// gateway authorizes the method and path it matched, so they are removed,
// never honoured. Compared in lower case with '_' read as '-'.
var overrideHeaders = []string{
	"x-http-method-override",
	"x-http-method",
	"x-method-override",
	"x-original-url",
	"x-rewrite-url",
	"x-original-method",
	"x-original-uri",
	"x-override-url",
}

// StripOverrideHeaders deletes every method-override and URL-override header
// from h (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
// X-Original-URL, X-Rewrite-URL, X-Original-Method, X-Original-URI,
// X-Override-URL), whatever the case of
// the key and also in their underscore spellings (X_Original_URL), which
// some servers (CGI-style environments, nginx with
// underscores_in_headers) treat like dashes. It returns the names removed,
// for the audit log (nil when none). Not safe for concurrent use of h.
func StripOverrideHeaders(h http.Header) []string {
	var removed []string
	for k := range h {
		if isOverrideHeader(k) {
			delete(h, k)
			removed = append(removed, k)
		}
	}
	return removed
}

// IsOverrideHeader reports whether k (any case, '_' for '-') is one of the
// method or URL override headers StripOverrideHeaders removes.
func IsOverrideHeader(k string) bool { return isOverrideHeader(k) }

func isOverrideHeader(k string) bool {
	if len(k) < len("x-http-method") || len(k) > len("x-http-method-override") {
		return false
	}
	for _, o := range overrideHeaders {
		if len(o) != len(k) {
			continue
		}
		same := true
		for i := 0; i < len(k); i++ {
			c := k[i]
			if c == '_' {
				c = '-'
			} else if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != o[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// ensure the list stays lower case with dashes (checked once at init).
func init() {
	for _, o := range overrideHeaders {
		if o != strings.ToLower(o) || strings.Contains(o, "_") {
			panic("openapi: overrideHeaders must be lower case with dashes")
		}
	}
}
