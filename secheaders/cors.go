package secheaders

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/problem"
)

// CORS errors returned by the pure checks.
var (
	// ErrOriginNotAllowed: the Origin is not in the allow list (or malformed).
	ErrOriginNotAllowed = errors.New("cors: origin not allowed")
	// ErrMethodNotAllowed: the preflight asks for a method not allowed.
	ErrMethodNotAllowed = errors.New("cors: method not allowed")
	// ErrHeaderNotAllowed: the preflight asks for a header not allowed.
	ErrHeaderNotAllowed = errors.New("cors: header not allowed")
	// ErrBadConfig: the CORS options are unsafe or malformed.
	ErrBadConfig = errors.New("cors: bad configuration")
)

// CORSOptions configures a CORS policy.
type CORSOptions struct {
	// AllowOrigins lists exact origins, "scheme://host[:port]". "*" allows any
	// origin (the response says "*") and cannot be combined with credentials.
	AllowOrigins     []string
	AllowCredentials bool
	// AllowMethods defaults to GET, HEAD, POST, PUT, PATCH, DELETE.
	AllowMethods []string
	// AllowHeaders defaults to Authorization, Content-Type. "*" allows any
	// header (not with credentials).
	AllowHeaders  []string
	ExposeHeaders []string
	// MaxAge is the preflight cache lifetime; 0 omits Access-Control-Max-Age.
	MaxAge time.Duration
}

// CORS is a compiled CORS policy. It is immutable and safe for concurrent use.
//
// Origin matching is exact on the normalized (scheme, host, port) triple:
// scheme and host compare case-insensitively and a default port is the same
// as no port ("https://app.example.com:443" equals "https://app.example.com").
// There is no substring, prefix or suffix matching, so
// "https://app.example.com.evil.com" and "https://evilapp.example.com" never
// match "https://app.example.com". The "null" origin (sandboxed iframes,
// file: URLs, some redirects) is never allowed, because any site can produce
// it. A request with several Origin headers is treated as not allowed.
type CORS struct {
	any         bool
	origins     map[string]struct{}
	credentials bool
	methods     map[string]struct{}
	methodList  string
	anyHeader   bool
	headers     map[string]struct{}
	headerList  string
	expose      string
	maxAge      string
}

var (
	defaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	defaultHeaders = []string{"Authorization", "Content-Type"}
)

// NewCORS compiles o. It refuses "*" with credentials, "null", and origins
// that are not a bare scheme://host[:port].
func NewCORS(o CORSOptions) (*CORS, error) {
	c := &CORS{origins: map[string]struct{}{}, methods: map[string]struct{}{}, headers: map[string]struct{}{},
		credentials: o.AllowCredentials}
	for _, s := range o.AllowOrigins {
		if s == "*" {
			if o.AllowCredentials {
				return nil, fmt.Errorf("%w: origin \"*\" with credentials", ErrBadConfig)
			}
			c.any = true
			continue
		}
		n, ok := NormalizeOrigin(s)
		if !ok {
			return nil, fmt.Errorf("%w: origin %q", ErrBadConfig, s)
		}
		c.origins[n] = struct{}{}
	}
	methods := o.AllowMethods
	if len(methods) == 0 {
		methods = defaultMethods
	}
	for _, m := range methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		c.methods[m] = struct{}{}
	}
	c.methodList = strings.Join(methods, ", ")
	hdrs := o.AllowHeaders
	if len(hdrs) == 0 {
		hdrs = defaultHeaders
	}
	var canon []string
	for _, h := range hdrs {
		if h == "*" {
			if o.AllowCredentials {
				return nil, fmt.Errorf("%w: header \"*\" with credentials", ErrBadConfig)
			}
			c.anyHeader = true
			continue
		}
		k := http.CanonicalHeaderKey(strings.TrimSpace(h))
		c.headers[k] = struct{}{}
		canon = append(canon, k)
	}
	c.headerList = strings.Join(canon, ", ")
	c.expose = strings.Join(o.ExposeHeaders, ", ")
	if o.MaxAge > 0 {
		c.maxAge = strconv.FormatInt(int64(o.MaxAge/time.Second), 10)
	}
	return c, nil
}

// NormalizeOrigin returns the canonical form of an origin ("https://host" or
// "https://host:8443": lower-case scheme and host, default port dropped) and
// whether it is a well-formed http(s) origin. "null" and anything with a
// path, query, fragment or userinfo is not.
func NormalizeOrigin(s string) (string, bool) {
	if s == "" || s == "null" || strings.ContainsAny(s, " \t\r\n*\\") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.Host == "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") {
		return "", false
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 || strconv.Itoa(n) != port {
			return "", false
		}
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, true
	}
	return scheme + "://" + host, true
}

// AllowOrigin is the pure origin check: nil if origin may read responses.
func (c *CORS) AllowOrigin(origin string) error {
	if c.any && origin != "" {
		return nil
	}
	n, ok := NormalizeOrigin(origin)
	if !ok {
		return ErrOriginNotAllowed
	}
	if _, ok := c.origins[n]; !ok {
		return ErrOriginNotAllowed
	}
	return nil
}

// CheckPreflight is the pure preflight check for an OPTIONS request with the
// given Origin, Access-Control-Request-Method and (comma-separated)
// Access-Control-Request-Headers values.
func (c *CORS) CheckPreflight(origin, method, reqHeaders string) error {
	if err := c.AllowOrigin(origin); err != nil {
		return err
	}
	if _, ok := c.methods[method]; !ok {
		return fmt.Errorf("%w: %q", ErrMethodNotAllowed, method)
	}
	if c.anyHeader {
		return nil
	}
	for _, h := range strings.Split(reqHeaders, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, ok := c.headers[http.CanonicalHeaderKey(h)]; !ok {
			return fmt.Errorf("%w: %q", ErrHeaderNotAllowed, h)
		}
	}
	return nil
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// originOf returns the single Origin header, or "" when absent or repeated.
func originOf(r *http.Request) (string, bool) {
	v := r.Header.Values("Origin")
	switch len(v) {
	case 0:
		return "", false
	case 1:
		return v[0], true
	}
	return "", true // present but ambiguous: never allowed
}

// Handler returns middleware applying the policy: preflights are answered
// here (204 with CORS headers when allowed, 403 problem without them
// otherwise) and never reach next; other responses get
// Access-Control-Allow-Origin and friends for allowed origins, and always
// Vary: Origin. Access-Control-* headers set by next (an upstream) are
// replaced, so the gateway's policy is the only one a browser sees.
func (c *CORS) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, present := originOf(r)
		if IsPreflight(r) {
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			acrh := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ",")
			if err := c.CheckPreflight(origin, r.Header.Get("Access-Control-Request-Method"), acrh); err != nil {
				problem.Write(w, r, http.StatusForbidden)
				return
			}
			c.allowHeaders(h, origin)
			h.Set("Access-Control-Allow-Methods", c.methodList)
			if c.anyHeader {
				if acrh != "" {
					h.Set("Access-Control-Allow-Headers", acrh)
				}
			} else if c.headerList != "" {
				h.Set("Access-Control-Allow-Headers", c.headerList)
			}
			if c.maxAge != "" {
				h.Set("Access-Control-Max-Age", c.maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		allowed := present && c.AllowOrigin(origin) == nil
		next.ServeHTTP(&hookWriter{ResponseWriter: w, hook: func(h http.Header) {
			for k := range h {
				if strings.HasPrefix(k, "Access-Control-") {
					delete(h, k)
				}
			}
			addVaryOrigin(h)
			if allowed {
				c.allowHeaders(h, origin)
				if c.expose != "" {
					h.Set("Access-Control-Expose-Headers", c.expose)
				}
			}
		}}, r)
	})
}

func (c *CORS) allowHeaders(h http.Header, origin string) {
	if c.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func addVaryOrigin(h http.Header) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); strings.EqualFold(f, "Origin") || f == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Origin")
}
