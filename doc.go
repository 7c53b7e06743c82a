// Package gatehouse is an API security gateway and scanner driven by the
// OpenAPI contract.
//
// The packages under this module are usable as a library: each security stage
// (authn, authz, ratelimit, oasvalidate, respfilter, secheaders, problem) is a
// plain [Middleware] over a pure check, so a Go service can import the same
// protection that `gatehouse serve` applies in front of any upstream.
//
// This root package holds only what every stage shares: the [Middleware] type,
// [Chain], the per-request [Record] that stages write their decisions into,
// the matched [Route], and the enforce/monitor [Mode].
package gatehouse

import "net/http"

// Middleware wraps an http.Handler with one stage of protection.
type Middleware func(http.Handler) http.Handler

// Chain composes middleware; the first one is the outermost.
// A nil Middleware in the list is skipped, so optional stages can be passed as nil.
func Chain(mw ...Middleware) Middleware {
	return func(h http.Handler) http.Handler {
		for i := len(mw) - 1; i >= 0; i-- {
			if mw[i] != nil {
				h = mw[i](h)
			}
		}
		return h
	}
}
