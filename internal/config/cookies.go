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
}
