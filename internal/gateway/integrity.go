package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
)

// ownedHeaders are the request headers the gateway sets for the upstream
// (the configured identity headers); the proxy sets them again after the
// hop-by-hop removal.
func ownedHeaders(cfg *config.Config) []string {
	ih := cfg.Authn.IdentityHeaders
	return []string{ih.Subject, ih.Roles, ih.Scopes, ih.Issuer, ih.Method}
}

// trailerCounter counts dropped request trailer fields.
func trailerCounter(reg prometheus.Registerer) func(context.Context, int) {
	c, err := reuse(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_request_trailers_dropped_total",
		Help: "Request trailer fields dropped before the upstream (not in request.allow_trailers).",
	}))
	if err != nil {
		return nil
	}
	return func(_ context.Context, n int) { c.Add(float64(n)) }
}

// connectionTokens are the only Connection header tokens a client may send.
// Any other token names a header that ReverseProxy would delete as
// hop-by-hop before the upstream: an end-to-end header the gateway
// validated (Content-Type) or one it owns (X-Request-Id, identity headers).
var connectionTokens = map[string]bool{
	"close": true, "keep-alive": true, "te": true, "trailer": true, "upgrade": true, "http2-settings": true,
}

// badConnectionToken returns the first Connection token outside connectionTokens.
func badConnectionToken(h http.Header) (string, bool) {
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if tok != "" && !connectionTokens[tok] {
				return tok, true
			}
		}
	}
	return "", false
}
