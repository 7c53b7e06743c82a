package config

import (
	"net/url"
	"strconv"
	"strings"
)

// Cookies configures cookie sessions: the attributes enforced on cookies
// the upstream sets, and cross-origin (CSRF) protection of state-changing
// requests that carry cookies:
//
//	cookies:
//	  secure: true          # add Secure to every Set-Cookie from the upstream
//	  http_only: true       # add HttpOnly
//	  same_site: lax        # set SameSite (lax | strict | none); empty leaves it
//	  cross_origin_protection: true   # cookie-carrying POST/PUT/PATCH/DELETE need a same-origin Origin / Sec-Fetch-Site
//	  trusted_origins: ["https://app.example.com"]
//
// Everything is off by default: the gateway does not change cookies it
// was not told about.
type Cookies struct {
	// Secure adds the Secure attribute to every cookie the upstream sets.
	Secure bool `yaml:"secure"`
	// HTTPOnly adds the HttpOnly attribute to every cookie the upstream sets.
	HTTPOnly bool `yaml:"http_only"`
	// SameSite sets the SameSite attribute of every cookie the upstream sets: lax, strict or none (none needs secure); empty leaves it as the upstream wrote it.
	SameSite string `yaml:"same_site" enum:"lax,strict,none"`
	// CrossOriginProtection refuses (403) non-safe requests that carry a Cookie header and come from another origin, using Go's http.CrossOriginProtection (Sec-Fetch-Site, else Origin vs Host).
	CrossOriginProtection bool `yaml:"cross_origin_protection"`
	// TrustedOrigins are origins ("https://app.example.com") allowed to send cross-origin cookie requests.
	TrustedOrigins []string `yaml:"trusted_origins"`
	// Sessions names the upstream's own opaque session cookies: revoked when a logout operation answers 2xx, and optionally bound to the client they were issued to (see docs/authn.md, "Session cookies").
	Sessions CookieSessions `yaml:"sessions"`
}

// CookieSessions configures the gateway's handling of the upstream's own
// session cookies (cookies.sessions):
//
//	cookies:
//	  sessions:
//	    names: [sid]                  # the upstream's session cookie(s)
//	    logout_operations: [logout]   # their 2xx revokes the presented cookie values
//	    max_ttl: 24h                  # how long a revoked value is refused / a binding kept
//	    bind: [ip, user_agent]        # refuse a session cookie from another client
//	    ipv4_prefix: 24
//	    ipv6_prefix: 64
//
// Revocations and bindings live in authn.revocation.store (memory or Redis).
type CookieSessions struct {
	// Names are the upstream's session cookie names (matched ignoring ASCII case).
	Names []string `yaml:"names"`
	// LogoutOperations are operationIds whose 2xx answer from the upstream revokes the session cookie values presented with that request.
	LogoutOperations []string `yaml:"logout_operations"`
	// MaxTTL is how long a revoked session cookie is refused (set it to the upstream's longest session lifetime) and the longest a binding is kept; default 24h.
	MaxTTL Duration `yaml:"max_ttl"`
	// Bind records a fingerprint of the client when the upstream sets a session cookie and refuses (401) that cookie from another fingerprint: ip (client IP prefix), user_agent (User-Agent hash), or both. Empty: no binding.
	Bind []string `yaml:"bind"`
	// IPv4Prefix is the prefix length of the ip fingerprint for IPv4 clients (default 24).
	IPv4Prefix int `yaml:"ipv4_prefix"`
	// IPv6Prefix is the prefix length of the ip fingerprint for IPv6 clients (default 64).
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// RequireBinding refuses (401) a session cookie the gateway never saw the upstream set; default false (allowed: set before binding was on, or lost with a memory store's restart).
	RequireBinding bool `yaml:"require_binding"`
}

// Enabled reports whether session cookies are configured.
func (c *CookieSessions) Enabled() bool { return len(c.Names) > 0 }

func (c *CookieSessions) validate(p *Problems, path string) {
	for i, n := range c.Names {
		if n == "" || !isCookieName(n) {
			p.Errorf(path+".names["+strconv.Itoa(i)+"]", "%q is not a cookie name (an RFC 6265 token)", n)
		}
	}
	if !c.Enabled() && (len(c.LogoutOperations) > 0 || len(c.Bind) > 0) {
		p.Errorf(path+".names", "names is required when logout_operations or bind is set")
	}
	if c.Enabled() && len(c.LogoutOperations) == 0 && len(c.Bind) == 0 {
		p.Warnf(path, "sessions has names but neither logout_operations nor bind: it has no effect")
	}
	for i, b := range c.Bind {
		if b != "ip" && b != "user_agent" {
			p.Errorf(path+".bind["+strconv.Itoa(i)+"]", "bind must be ip or user_agent, not %q", b)
		}
	}
	if c.MaxTTL < 0 {
		p.Errorf(path+".max_ttl", "max_ttl must not be negative")
	}
	if c.IPv4Prefix < 0 || c.IPv4Prefix > 32 {
		p.Errorf(path+".ipv4_prefix", "ipv4_prefix must be 0..32")
	}
	if c.IPv6Prefix < 0 || c.IPv6Prefix > 128 {
		p.Errorf(path+".ipv6_prefix", "ipv6_prefix must be 0..128")
	}
	if c.RequireBinding && len(c.Bind) == 0 {
		p.Errorf(path+".require_binding", "require_binding needs bind")
	}
}

// isCookieName reports whether s is an RFC 6265 cookie-name (a token).
func isCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// Enabled reports whether any cookie policy is set.
func (c *Cookies) Enabled() bool {
	return c.Secure || c.HTTPOnly || c.SameSite != "" || c.CrossOriginProtection
}

// validate reports problems in Cookies; path is its YAML key path.
func (c *Cookies) validate(p *Problems, path string) {
	switch c.SameSite {
	case "", "lax", "strict":
	case "none":
		if !c.Secure {
			p.Errorf(path+".same_site", "same_site none needs secure: true (browsers drop SameSite=None cookies without Secure)")
		}
	default:
		p.Errorf(path+".same_site", "same_site must be lax, strict or none, not %q", c.SameSite)
	}
	for i, o := range c.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(o, "/") {
			p.Errorf(path+".trusted_origins["+strconv.Itoa(i)+"]", "%q must be an origin: scheme://host[:port], no path", o)
		}
	}
	if len(c.TrustedOrigins) > 0 && !c.CrossOriginProtection {
		p.Warnf(path+".trusted_origins", "trusted_origins has no effect without cross_origin_protection: true")
	}
	c.Sessions.validate(p, path+".sessions")
}
