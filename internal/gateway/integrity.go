package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/secheaders"
)

// loopbackAddr reports whether a listener address is loopback-only.
func loopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// adminAuthorized checks the bearer token of a mutating admin endpoint
// when one is configured (always, when the admin listener is not
// loopback: Run refuses to start otherwise). It answers 401 itself.
func (s *Server) adminAuthorized(w http.ResponseWriter, r *http.Request) bool {
	p := s.pipe.Load()
	if p == nil || p.adminToken == nil {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	want := sha256.Sum256(p.adminToken)
	have := sha256.Sum256([]byte(got))
	if ok && len(r.Header.Values("Authorization")) == 1 && subtle.ConstantTimeCompare(want[:], have[:]) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
	problem.Write(w, r, http.StatusUnauthorized)
	return false
}

// withHeaderEdits applies headers.remove and headers.add after the preset
// (whatever the preset, off included).
func withHeaderEdits(preset gatehouse.Middleware, h config.Headers) gatehouse.Middleware {
	if len(h.Add) == 0 && len(h.Remove) == 0 {
		return preset
	}
	edits := secheaders.Policy{Remove: h.Remove, Set: h.Add}
	if preset == nil {
		return edits.Handler
	}
	// The outer writer's hook runs last, so the edits win over the preset.
	return func(next http.Handler) http.Handler { return edits.Handler(preset(next)) }
}

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
