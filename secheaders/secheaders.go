// Package secheaders adds security response headers and applies a CORS
// policy, as net/http middleware usable with or without the gateway.
//
// Headers are applied when the response header is written (not before the
// handler runs), so they win over whatever a proxied upstream sent and can
// depend on the response's Content-Type. The Strict preset is what
// `gatehouse serve` uses by default:
//
//   - Strict-Transport-Security, only on requests that arrived over TLS
//     (sending it over plain HTTP is ignored by browsers and misleads readers);
//   - X-Content-Type-Options: nosniff;
//   - Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//     on JSON and problem+json responses (an API response is never a page);
//   - Referrer-Policy: no-referrer; Cross-Origin-Resource-Policy: same-origin;
//   - Cache-Control: no-store on every response (an API response may carry
//     one user's data, and a shared cache keyed on the URL alone would serve
//     it to another; with credentials in a cookie or a header the cache
//     cannot tell);
//   - Server, X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version and
//     X-Runtime removed (they only help an attacker pick exploits).
//
// Both middlewares are safe for concurrent use and immutable after construction.
package secheaders

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fingerprint lists upstream response headers that reveal the software
// stack; Strict removes them.
var Fingerprint = []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Runtime", "X-Generator"}

// DefaultCredentialHeaders are request headers whose presence marks a
// request as authenticated (its response gets Cache-Control: no-store).
var DefaultCredentialHeaders = []string{"Authorization", "Cookie", "X-API-Key", "Proxy-Authorization"}

// Policy is a set of security headers. The zero value adds nothing; use Strict.
type Policy struct {
	// HSTSMaxAge is the max-age of Strict-Transport-Security; 0 omits the header.
	HSTSMaxAge time.Duration
	// HSTSIncludeSubdomains adds includeSubDomains.
	HSTSIncludeSubdomains bool
	// NoSniff sets X-Content-Type-Options: nosniff.
	NoSniff bool
	// JSONCSP is the Content-Security-Policy set on JSON responses ("" = none).
	JSONCSP string
	// ReferrerPolicy is the Referrer-Policy value ("" = none).
	ReferrerPolicy string
	// CORP is the Cross-Origin-Resource-Policy value ("" = none).
	CORP string
	// NoStoreWithCredentials sets Cache-Control: no-store when the request
	// carried one of CredentialHeaders.
	NoStoreWithCredentials bool
	// CredentialHeaders overrides DefaultCredentialHeaders when non-nil.
	CredentialHeaders []string
	// RemoveFingerprint deletes the Fingerprint headers.
	RemoveFingerprint bool
	// NoStore sets Cache-Control: no-store on every response.
	NoStore bool
	// Remove lists response headers deleted (after the preset headers).
	Remove []string
	// Set lists response headers set last, replacing any upstream value
	// (e.g. X-Frame-Options: DENY for old browsers, or a Cache-Control that
	// replaces NoStore for a public API).
	Set map[string]string
}

// Strict returns the strict preset with a one-year HSTS max-age.
func Strict() Policy {
	return Policy{
		HSTSMaxAge:             365 * 24 * time.Hour,
		NoSniff:                true,
		JSONCSP:                "default-src 'none'; frame-ancestors 'none'",
		ReferrerPolicy:         "no-referrer",
		CORP:                   "same-origin",
		NoStoreWithCredentials: true,
		RemoveFingerprint:      true,
		NoStore:                true,
	}
}

// Off returns the preset that changes nothing.
func Off() Policy { return Policy{} }

// HasCredentials reports whether r carries any of the credential headers.
func (p Policy) HasCredentials(r *http.Request) bool {
	names := p.CredentialHeaders
	if names == nil {
		names = DefaultCredentialHeaders
	}
	for _, n := range names {
		if len(r.Header.Values(n)) > 0 {
			return true
		}
	}
	return false
}

// IsJSON reports whether a Content-Type is JSON (application/json, a +json
// suffix such as application/problem+json) or absent. An absent type is
// treated as JSON because browsers would sniff it.
func IsJSON(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return ct == "" || ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// Apply sets the policy's headers on h, the response header of a request r
// that is about to be written. It is the pure core of Handler.
func (p Policy) Apply(h http.Header, r *http.Request) {
	hsts := ""
	if r.TLS != nil {
		hsts = p.hsts()
	}
	p.apply(h, r, hsts)
}

// hsts is the Strict-Transport-Security value ("" when HSTSMaxAge is 0).
func (p *Policy) hsts() string {
	if p.HSTSMaxAge <= 0 {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(p.HSTSMaxAge/time.Second), 10)
	if p.HSTSIncludeSubdomains {
		v += "; includeSubDomains"
	}
	return v
}

// apply is Apply with the HSTS value computed once, when Handler is built.
func (p *Policy) apply(h http.Header, r *http.Request, hsts string) {
	if p.RemoveFingerprint {
		// Any spelling of the key (Del would canonicalise each name,
		// allocating for X-AspNet-Version and X-AspNetMvc-Version).
		for k := range h {
			for _, f := range Fingerprint {
				if strings.EqualFold(k, f) {
					delete(h, k)
					break
				}
			}
		}
	}
	// The fixed values share one backing array per response (one
	// allocation instead of one per header); each is capped at length 1,
	// so an append elsewhere copies instead of writing into its neighbour.
	var vals []string
	set := func(k, v string) {
		if vals == nil {
			vals = make([]string, 0, 6)
		}
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	if hsts != "" && r.TLS != nil {
		set("Strict-Transport-Security", hsts)
	}
	if p.NoSniff {
		set("X-Content-Type-Options", "nosniff")
	}
	if p.JSONCSP != "" && IsJSON(h.Get("Content-Type")) {
		set("Content-Security-Policy", p.JSONCSP)
	}
	if p.ReferrerPolicy != "" {
		set("Referrer-Policy", p.ReferrerPolicy)
	}
	if p.CORP != "" {
		set("Cross-Origin-Resource-Policy", p.CORP)
	}
	if p.NoStore || (p.NoStoreWithCredentials && p.HasCredentials(r)) {
		set("Cache-Control", "no-store")
		h.Del("Expires")
	}
	for _, k := range p.Remove {
		h.Del(k)
	}
	for k, v := range p.Set {
		h.Set(k, v)
	}
}

// Handler returns middleware that applies p to every response of next when
// its header is written.
func (p Policy) Handler(next http.Handler) http.Handler {
	if p.isZero() {
		return next
	}
	hp := &headerPolicy{p: p, hsts: p.hsts()}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := hookWriters.Get().(*hookWriter)
		*hw = hookWriter{ResponseWriter: w, policy: hp, r: r}
		next.ServeHTTP(hw, r)
		hw.before() // a handler that wrote nothing still gets the headers (implicit 200)
		// Reused only after a normal return: a panicking handler may have
		// handed hw to code that still runs (the server's recovery path).
		*hw = hookWriter{}
		hookWriters.Put(hw)
	})
}

// headerPolicy is a Policy with what does not depend on the request
// computed once, when Handler builds the middleware.
type headerPolicy struct {
	p    Policy
	hsts string
}

// hookWriters recycles the per-request writers of Handler (one allocation
// less per request). A writer is put back only after the handler returned
// and is cleared first, so no request's writer or request is reachable from
// the pool.
var hookWriters = sync.Pool{New: func() any { return new(hookWriter) }}

func (p Policy) isZero() bool {
	return p.HSTSMaxAge == 0 && !p.NoSniff && p.JSONCSP == "" && p.ReferrerPolicy == "" &&
		p.CORP == "" && !p.NoStoreWithCredentials && !p.RemoveFingerprint && !p.NoStore &&
		len(p.Remove) == 0 && len(p.Set) == 0
}

// hookWriter runs hook (CORS), or applies policy to the response of r
// (Handler), once, just before the header is sent.
type hookWriter struct {
	http.ResponseWriter
	hook   func(http.Header)
	policy *headerPolicy
	r      *http.Request
	wrote  bool
}

func (w *hookWriter) before() {
	if !w.wrote {
		w.wrote = true
		if w.policy != nil {
			w.policy.p.apply(w.ResponseWriter.Header(), w.r, w.policy.hsts)
			return
		}
		w.hook(w.ResponseWriter.Header())
	}
}

func (w *hookWriter) WriteHeader(code int) {
	// 1xx informational headers are not the final response.
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.before()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hookWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer when it supports flushing.
func (w *hookWriter) Flush() {
	w.before()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *hookWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
