package gateway

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/problem"
)

// buildCookies compiles the cookie policy (nil when the cookies section is
// unset). Two parts:
//
//   - cross_origin_protection: a non-safe request that carries a Cookie
//     header is checked by Go's http.CrossOriginProtection (Sec-Fetch-Site
//     when the browser sends it, else Origin against Host; neither header:
//     a non-browser client, allowed) and refused with 403. Requests without
//     cookies (bearer tokens, API keys) are not CSRF-able and pass: a
//     browser never attaches those credentials by itself.
//   - secure / http_only / same_site: every Set-Cookie of the upstream's
//     answer is rewritten with the attributes added (an upstream tap, so it
//     sees the upstream's own headers). A Set-Cookie that does not parse is
//     dropped rather than passed on unprotected.
//
// cookies.sessions (stage_sessions.go) runs right after the cross-origin
// check.
func (b *builder) buildCookies(ctx context.Context) (gatehouse.Middleware, error) {
	policy, err := b.buildCookiePolicy(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := b.buildSessionCookies(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case sessions == nil:
		return policy, nil
	case policy == nil:
		return sessions, nil
	}
	return gatehouse.Chain(policy, sessions), nil
}

// buildCookiePolicy compiles the attribute policy and the cross-origin check.
func (b *builder) buildCookiePolicy(ctx context.Context) (gatehouse.Middleware, error) {
	cc := &b.cfg.Cookies
	if !cc.Enabled() {
		return nil, nil
	}
	var dropped, denied prometheus.Counter
	if b.metrics != nil {
		cv, err := reuse(b.metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_cookie_policy_total",
			Help: "Cookie policy actions: cross-origin cookie requests refused, upstream Set-Cookie headers dropped as unparsable.",
		}, []string{"action"}))
		if err != nil {
			return nil, err
		}
		dropped, denied = cv.WithLabelValues("set_cookie_dropped"), cv.WithLabelValues("cross_origin_denied")
	}
	if cc.Secure || cc.HTTPOnly || cc.SameSite != "" {
		pol := cookiePolicy{secure: cc.Secure, httpOnly: cc.HTTPOnly, sameSite: sameSiteMode(cc.SameSite), dropped: dropped}
		b.upstreamTaps = append(b.upstreamTaps, pol.tap)
	}
	if !cc.CrossOriginProtection {
		return nil, nil
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range cc.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, config.AtPath("cookies.trusted_origins", err)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Cookie") == "" {
				next.ServeHTTP(w, r)
				return
			}
			if err := cop.Check(r); err != nil {
				if denied != nil {
					denied.Inc()
				}
				rec := gatehouse.RecordFrom(r.Context())
				if rt := gatehouse.RouteFrom(r.Context()); rt != nil && rt.Mode == gatehouse.Monitor {
					rec.Monitor("cookies", "cross_origin")
					next.ServeHTTP(w, r)
					return
				}
				rec.Block("cookies", "cross_origin")
				problem.Write(w, r, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func sameSiteMode(s string) http.SameSite {
	switch s {
	case "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return 0
}

// cookiePolicy rewrites the upstream's Set-Cookie headers.
type cookiePolicy struct {
	secure, httpOnly bool
	sameSite         http.SameSite // 0: leave as set
	dropped          prometheus.Counter
}

// rewrite returns the Set-Cookie values with the policy applied.
func (p cookiePolicy) rewrite(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		c, err := http.ParseSetCookie(v)
		var s string
		if err == nil {
			if p.secure {
				c.Secure = true
			}
			if p.httpOnly {
				c.HttpOnly = true
			}
			if p.sameSite != 0 {
				c.SameSite = p.sameSite
			}
			s = c.String()
		}
		if s == "" {
			if p.dropped != nil {
				p.dropped.Inc()
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p cookiePolicy) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cookieWriter{ResponseWriter: w, pol: p}, r)
	})
}

// cookieWriter applies the policy when the header is written.
type cookieWriter struct {
	http.ResponseWriter
	pol  cookiePolicy
	done bool
}

func (w *cookieWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		h := w.Header()
		if v := h.Values("Set-Cookie"); len(v) > 0 {
			h["Set-Cookie"] = w.pol.rewrite(v)
			if len(h["Set-Cookie"]) == 0 {
				delete(h, "Set-Cookie")
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cookieWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *cookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush through (the header is written first).
func (w *cookieWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
