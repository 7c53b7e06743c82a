package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn/revocation"
	"github.com/gatehouse/gatehouse/authn/revocation/redisstore"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/problem"
)

// Session cookies of an upstream that keeps its own sessions
// (cookies.sessions).
//
// The upstream's session cookie is an opaque value the gateway cannot
// verify, but it can remember two things about it, in the revocation store
// (memory, or Redis shared by replicas):
//
//   - revocation: when a logout operation is answered 2xx by the upstream,
//     every configured session cookie presented with that request is
//     revoked for max_ttl, and a later request presenting it is refused
//     with 401 before the upstream. An upstream that forgets to end the
//     session server-side, or a copy of the cookie taken before logout,
//     gets nothing;
//   - binding (optional): when the upstream sets a session cookie, the
//     gateway records a fingerprint of the client it answered (client IP
//     prefix and/or User-Agent hash); the cookie presented with another
//     fingerprint is refused with 401. The first binding of a value stays
//     (a later Set-Cookie of the same value cannot move it).
//
// Values are stored only as SHA-256 hashes. What counts as "the same
// cookie" follows the most lenient upstream parser: names are matched
// ignoring ASCII case (after percent-decoding), pairs are split on ';' and
// ',', every Cookie header is read (duplicates and HTTP/2 split cookies),
// and each value is checked in every form an upstream may decode it to
// (as sent, without surrounding double quotes, percent-decoded, and
// form-decoded with '+' as space); a logout revokes all forms of the
// presented value. Any presented value that is revoked or bound elsewhere
// refuses the request.

// maxSessionCookies bounds the session cookie pairs examined per request;
// more is refused (a flood of pairs would mean as many store lookups).
const maxSessionCookies = 16

// sessionCookies is the compiled cookies.sessions stage. Safe for
// concurrent use.
type sessionCookies struct {
	names          map[string]bool // lower-case
	logout         map[string]bool // operationIds
	store          revocation.Store
	binder         revocation.Binder // nil: no binding
	bindIP, bindUA bool
	v4, v6         int
	maxTTL         time.Duration
	require        bool
	failOpen       bool // authn.revocation.on_store_error: allow
	now            func() time.Time
	trusted        httpx.TrustedProxies
	log            *slog.Logger
	actions        *prometheus.CounterVec
	lastErrLog     atomic.Int64
}

// buildSessionCookies compiles cookies.sessions (nil when no names are
// configured). It uses authn.revocation.store: the process's memory store
// (the one authn uses, kept across reloads) or the Redis at that URL.
func (b *builder) buildSessionCookies(ctx context.Context) (gatehouse.Middleware, error) {
	sc := &b.cfg.Cookies.Sessions
	if !sc.Enabled() {
		return nil, nil
	}
	now := b.now
	if now == nil {
		now = time.Now
	}
	log := b.log.With("component", "session_cookies")
	rc := &b.cfg.Authn.Revocation
	s := &sessionCookies{names: map[string]bool{}, logout: map[string]bool{}, v4: sc.IPv4Prefix, v6: sc.IPv6Prefix,
		maxTTL: sc.MaxTTL.D(), require: sc.RequireBinding, failOpen: rc.OnStoreError == "allow", now: now, log: log}
	if s.maxTTL <= 0 {
		s.maxTTL = 24 * time.Hour
	}
	if s.v4 == 0 {
		s.v4 = 24
	}
	if s.v6 == 0 {
		s.v6 = 64
	}
	switch {
	case rc.Store == "memory" || rc.Store == "":
		s.store = processRevocations(rc.MaxEntries, now)
	case rc.IsRedis():
		rs, err := redisstore.Open(rc.Store, redisstore.Options{Now: now})
		if err != nil {
			return nil, config.AtPath("authn.revocation.store", err)
		}
		b.onClose(rs.Close)
		if err := rs.Ping(ctx); err != nil {
			log.Error("revocation store unreachable", "on_store_error", rc.OnStoreError, "error", err)
		}
		s.store = rs
	default:
		return nil, config.AtPath("cookies.sessions", errors.New("session cookies need authn.revocation.store (memory or a redis:// URL), not none"))
	}
	for _, n := range sc.Names {
		s.names[strings.ToLower(n)] = true
	}
	for i, op := range sc.LogoutOperations {
		if b.spec != nil && !specHasOperation(b, op) {
			return nil, config.AtPath(fmt.Sprintf("cookies.sessions.logout_operations[%d]", i), fmt.Errorf("operation %q is not in the spec", op))
		}
		s.logout[op] = true
	}
	for _, k := range sc.Bind {
		s.bindIP = s.bindIP || k == "ip"
		s.bindUA = s.bindUA || k == "user_agent"
	}
	if s.bindIP || s.bindUA {
		bd, ok := s.store.(revocation.Binder)
		if !ok {
			return nil, config.AtPath("cookies.sessions.bind", errors.New("the revocation store cannot keep bindings"))
		}
		s.binder = bd
	}
	tp, err := httpx.ParseTrustedProxies(b.cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("cookies.sessions: trusted_proxies: %w", err)
	}
	s.trusted = tp
	s.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_session_cookies_total",
		Help: "Session cookie actions: refused (revoked, other_client, unbound, too_many, store_error), revoked on logout, bound on Set-Cookie, store errors.",
	}, []string{"action"})
	if b.metrics != nil {
		if s.actions, err = reuse(b.metrics, s.actions); err != nil {
			return nil, err
		}
	}
	if len(s.logout) > 0 || s.binder != nil {
		b.upstreamTaps = append(b.upstreamTaps, s.tap)
	}
	return s.middleware, nil
}

// presentedSessionValues returns the values of the cookies named in names
// (lower-case) in the Cookie header fields hs, the way the most lenient
// upstream would read them: every field, pairs split on ';' and on ',',
// names trimmed, percent-decoded and compared ignoring ASCII case.
func presentedSessionValues(hs []string, names map[string]bool) []string {
	var out []string
	add := func(pair string) {
		name, val, ok := strings.Cut(pair, "=")
		if !ok {
			return
		}
		name = strings.TrimSpace(name)
		if !names[strings.ToLower(name)] {
			dn, err := url.PathUnescape(name)
			if err != nil || !names[strings.ToLower(strings.TrimSpace(dn))] {
				return
			}
		}
		out = append(out, strings.TrimSpace(val))
	}
	for _, h := range hs {
		for _, pair := range strings.Split(h, ";") {
			add(pair)
			if strings.IndexByte(pair, ',') >= 0 {
				for _, p := range strings.Split(pair, ",") {
					add(p)
				}
			}
		}
	}
	return out
}

// sessionKeys returns the store keys of every form of value: as sent,
// unquoted, percent-decoded and form-decoded. Keys are hashes.
func sessionKeys(value string) []string {
	forms := make([]string, 0, 4)
	add := func(f string) {
		if f == "" {
			return
		}
		for _, g := range forms {
			if g == f {
				return
			}
		}
		forms = append(forms, f)
	}
	add(value)
	u := value
	if len(u) >= 2 && u[0] == '"' && u[len(u)-1] == '"' {
		u = u[1 : len(u)-1]
		add(u)
	}
	if p, err := url.PathUnescape(u); err == nil {
		add(p)
	}
	if q, err := url.QueryUnescape(u); err == nil {
		add(q)
	}
	keys := make([]string, len(forms))
	for i, f := range forms {
		sum := sha256.Sum256([]byte("gatehouse-session-cookie\x00" + f))
		keys[i] = "sc:" + hex.EncodeToString(sum[:])
	}
	return keys
}

// fingerprint is the client's binding fingerprint: a hash of the client IP
// prefix and/or the User-Agent.
func (s *sessionCookies) fingerprint(r *http.Request) string {
	h := sha256.New()
	if s.bindIP {
		ip := s.trusted.ClientIP(r).Unmap()
		bits := s.v6
		if ip.Is4() {
			bits = s.v4
		}
		if p, err := ip.Prefix(bits); err == nil {
			h.Write([]byte("ip:" + p.String()))
		} else {
			h.Write([]byte("ip:unknown"))
		}
	}
	if s.bindUA {
		h.Write([]byte("\x00ua:" + r.Header.Get("User-Agent")))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Check decides a request: "" to let it pass, else the refusal reason.
func (s *sessionCookies) Check(ctx context.Context, r *http.Request) (reason string, err error) {
	vals := presentedSessionValues(r.Header.Values("Cookie"), s.names)
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > maxSessionCookies {
		return "too_many", nil
	}
	var fp string
	if s.binder != nil {
		fp = s.fingerprint(r)
	}
	for _, v := range vals {
		bound := false
		for _, k := range sessionKeys(v) {
			revoked, err := s.store.Check(ctx, k, "", time.Time{})
			if err != nil {
				return "store_error", err
			}
			if revoked {
				return "revoked", nil
			}
			if s.binder == nil {
				continue
			}
			got, ok, err := s.binder.Binding(ctx, k)
			if err != nil {
				return "store_error", err
			}
			if ok {
				if got != fp {
					return "other_client", nil
				}
				bound = true
			}
		}
		if s.binder != nil && s.require && !bound {
			return "unbound", nil
		}
	}
	return "", nil
}

func (s *sessionCookies) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason, err := s.Check(r.Context(), r)
		if err != nil {
			s.storeError("check", err)
			if s.failOpen {
				reason = ""
			}
		}
		if reason == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.actions.WithLabelValues("refused_" + reason).Inc()
		rec := gatehouse.RecordFrom(r.Context())
		if rt := gatehouse.RouteFrom(r.Context()); rt != nil && rt.Mode == gatehouse.Monitor {
			rec.Monitor("cookies", "session_"+reason)
			next.ServeHTTP(w, r)
			return
		}
		rec.Block("cookies", "session_"+reason)
		problem.Write(w, r, http.StatusUnauthorized)
	})
}

// storeError counts a store failure and logs it (at most every 10 s).
func (s *sessionCookies) storeError(op string, err error) {
	s.actions.WithLabelValues("store_error").Inc()
	if t, last := s.now().UnixNano(), s.lastErrLog.Load(); t-last >= int64(10*time.Second) && s.lastErrLog.CompareAndSwap(last, t) {
		s.log.Error("session cookie store failed", "op", op, "error", err)
	}
}

// tap sees the upstream's own answer: a 2xx to a logout operation revokes
// the presented session cookies, and a session cookie set by the upstream
// is bound to the client.
func (s *sessionCookies) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&sessionWriter{ResponseWriter: w, s: s, r: r}, r)
	})
}

// onUpstreamHeader runs when the upstream's status and header are known.
// It returns false when a logout's revocation failed: the client then gets
// 503 instead of the upstream's 2xx (as for tokens, authn.MiddlewareOptions
// OnLogout), so a logout never appears to succeed while the session stays
// usable through the gateway.
func (s *sessionCookies) onUpstreamHeader(r *http.Request, code int, h http.Header) bool {
	ctx := context.WithoutCancel(r.Context()) // a client gone mid-logout still logs out
	now := s.now()
	if rt := gatehouse.RouteFrom(r.Context()); rt != nil && s.logout[rt.OperationID] && code >= 200 && code < 300 {
		for _, v := range presentedSessionValues(r.Header.Values("Cookie"), s.names) {
			for _, k := range sessionKeys(v) {
				if err := s.store.RevokeToken(ctx, k, now.Add(s.maxTTL)); err != nil {
					s.actions.WithLabelValues("store_error").Inc()
					s.log.Error("logout: revoking the session cookie failed; answered 503", "error", err)
					gatehouse.RecordFrom(r.Context()).Set("logout_error", "revoke_failed")
					return false
				}
				s.actions.WithLabelValues("revoked").Inc()
			}
		}
	}
	if s.binder == nil {
		return true
	}
	var fp string
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || !s.names[strings.ToLower(c.Name)] || c.Value == "" || c.MaxAge < 0 ||
			(!c.Expires.IsZero() && !c.Expires.After(now)) {
			continue // not ours, or a deletion
		}
		ttl := s.maxTTL
		if c.MaxAge > 0 && time.Duration(c.MaxAge)*time.Second < ttl {
			ttl = time.Duration(c.MaxAge) * time.Second
		} else if c.MaxAge == 0 && !c.Expires.IsZero() && c.Expires.Sub(now) < ttl {
			ttl = c.Expires.Sub(now)
		}
		if fp == "" {
			fp = s.fingerprint(r)
		}
		for _, k := range sessionKeys(c.Value) {
			got, err := s.binder.Bind(ctx, k, fp, now.Add(ttl))
			if err != nil {
				s.storeError("bind", err)
				continue
			}
			if got != fp {
				s.actions.WithLabelValues("bound_elsewhere").Inc()
				s.log.Warn("upstream set a session cookie already bound to another client", "request_id", gatehouse.RecordFrom(r.Context()).Snapshot().RequestID)
				continue
			}
			s.actions.WithLabelValues("bound").Inc()
		}
	}
	return true
}

// sessionWriter calls onUpstreamHeader once, before the header is written.
type sessionWriter struct {
	http.ResponseWriter
	s            *sessionCookies
	r            *http.Request
	done, failed bool
}

func (w *sessionWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	if !w.done && code >= 200 {
		w.done = true
		if !w.s.onUpstreamHeader(w.r, code, w.Header()) {
			w.failed = true
			for k := range w.ResponseWriter.Header() {
				delete(w.ResponseWriter.Header(), k)
			}
			problem.Write(w.ResponseWriter, w.r, http.StatusServiceUnavailable)
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush through (the header is written first).
func (w *sessionWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
