package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikey"
	"github.com/gatehouse/gatehouse/authn/introspect"
	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/authn/revocation"
	"github.com/gatehouse/gatehouse/authn/revocation/redisstore"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/problem"
)

// authnStage is the compiled authn stage: the middleware and, when a
// revocation store is configured, the admin handler for POST /-/revoke.
type authnStage struct {
	mw    gatehouse.Middleware
	admin http.Handler // nil when revocation is off
}

// buildAuthn compiles the authn stage; a nil Middleware means the stage is off.
// The admin handler is available through buildAuthnStage.
func (b *builder) buildAuthn(ctx context.Context) (gatehouse.Middleware, error) {
	st, err := b.buildAuthnStage(ctx)
	if err != nil {
		return nil, err
	}
	b.revoke = st.admin
	return st.mw, nil
}

// authnFailures counts authentication failures by reason.
var authnFailuresOpts = prometheus.CounterOpts{
	Name: "gatehouse_authn_failures_total",
	Help: "Rejected credentials by reason (expired, bad_signature, unknown_kid, wrong_audience, revoked, ...), monitor mode included.",
}

// buildAuthnStage compiles config.Authn: JWT issuers (static keys, JWKS URL
// or OIDC discovery, refreshed in the background until the pipeline
// closes), API keys, the revocation store, the logout hook and the admin
// revocation handler. With no authenticator configured the middleware still
// runs, to strip client-sent identity headers.
func (b *builder) buildAuthnStage(ctx context.Context) (*authnStage, error) {
	ac := &b.cfg.Authn
	log := b.log.With("component", "authn")
	now := b.now
	if now == nil {
		now = time.Now
	}
	failures := prometheus.NewCounterVec(authnFailuresOpts, []string{"reason"})
	if b.metrics != nil {
		if err := b.metrics.Register(failures); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("register authn metrics: %w", err)
			}
			old, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("register authn metrics: %w", err)
			}
			failures = old
		}
	}

	var store revocation.Store
	switch s := ac.Revocation.Store; {
	case s == "none":
	case s == "memory" || s == "":
		store = processRevocations(ac.Revocation.MaxEntries, now)
	case strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://"):
		rs, err := redisstore.Open(s, redisstore.Options{Now: now})
		if err != nil {
			return nil, config.AtPath("authn.revocation.store", err)
		}
		b.onClose(rs.Close)
		if err := rs.Ping(ctx); err != nil {
			// Not fatal: on_store_error decides until Redis answers.
			log.Error("revocation store unreachable", "on_store_error", ac.Revocation.OnStoreError, "error", err)
		}
		store = rs
		// /readyz: with deny a Redis outage fails every authenticated
		// request (not ready); with allow the gateway serves unchecked
		// tokens (degraded).
		b.addReadyProbe(readyProbe{name: "authn_revocation_store", check: rs.Ping, required: ac.Revocation.OnStoreError != "allow"})
	default:
		return nil, config.AtPath("authn.revocation.store", fmt.Errorf("unknown store %q", s))
	}

	var chain []authn.Authenticator
	leeway := map[string]time.Duration{}
	if ic := &ac.Introspection; ic.Endpoint != "" {
		// Before the JWT issuers: it leaves JWS-shaped tokens to them when
		// one of them reads the Authorization header too.
		skipJWS := false
		for i := range ac.JWT {
			if strings.EqualFold(ac.JWT[i].TokenSource, "bearer") {
				skipJWS = true
			}
		}
		cacheSize := ic.CacheSize
		if cacheSize == 0 {
			cacheSize = -1 // 0 means off in the config, default in the library
		}
		ia, err := introspect.New(introspect.Options{Endpoint: ic.Endpoint, ClientID: ic.ClientID,
			ClientSecret: ic.ClientSecret.Value(), Issuer: ic.Issuer, Audiences: ic.Audiences,
			SubjectClaim: ic.SubjectClaim, RolesClaim: ic.RolesClaim, SkipJWS: skipJWS,
			CacheSize: cacheSize, MaxTTL: ic.CacheTTL.D(), Timeout: ic.Timeout.D(),
			Revocation: store, Now: now, Logger: log.With("authenticator", "introspection")})
		if err != nil {
			return nil, config.AtPath("authn.introspection", err)
		}
		chain = append(chain, ia)
	}
	if len(ac.JWT) > 0 {
		var issuers []*jwt.Issuer
		for i := range ac.JWT {
			path := fmt.Sprintf("authn.jwt[%d]", i)
			is, err := b.buildIssuer(ctx, &ac.JWT[i], path, log)
			if err != nil {
				return nil, err
			}
			issuers = append(issuers, is)
			leeway[ac.JWT[i].Issuer] = ac.JWT[i].Leeway.D()
		}
		revErrs, err := authnRevocationErrors(b.metrics)
		if err != nil {
			return nil, err
		}
		var lastRevLog atomic.Int64
		ja, err := jwt.New(jwt.Options{Issuers: issuers, CacheSize: ac.Cache.Size, CacheTTL: ac.Cache.TTL.D(),
			Revocation: store, Now: now, Logger: log,
			RevocationFailOpen: ac.Revocation.OnStoreError == "allow",
			OnRevocationError: func(err error) {
				revErrs.Inc()
				// One log line per 10s at most: an outage fails every request.
				if t, last := now().UnixNano(), lastRevLog.Load(); t-last >= int64(10*time.Second) && lastRevLog.CompareAndSwap(last, t) {
					log.Error("revocation check failed", "on_store_error", ac.Revocation.OnStoreError, "error", err)
				}
			}})
		if err != nil {
			return nil, config.AtPath("authn.jwt", err)
		}
		chain = append(chain, ja)
	}
	if ac.APIKeys.File != "" {
		keys, err := apikey.LoadFile(ac.APIKeys.File)
		if err != nil {
			return nil, config.AtPath("authn.api_keys.file", err)
		}
		ka, err := apikey.New(apikey.Options{Header: ac.APIKeys.Header, Query: ac.APIKeys.Query, Store: keys, Now: now})
		if err != nil {
			return nil, config.AtPath("authn.api_keys", err)
		}
		chain = append(chain, ka)
		log.Info("api keys loaded", "keys", keys.Len())
	}

	opts := authn.MiddlewareOptions{
		Authenticators: chain,
		Realm:          ac.Realm,
		SubjectHeader:  ac.IdentityHeaders.Subject,
		RolesHeader:    ac.IdentityHeaders.Roles,
		ScopesHeader:   ac.IdentityHeaders.Scopes,
		IssuerHeader:   ac.IdentityHeaders.Issuer,
		MethodHeader:   ac.IdentityHeaders.Method,
		StripHeaders:   []string{config.DefaultIdentitySubject, config.DefaultIdentityRoles, config.DefaultIdentityScopes},
		Logger:         log,
		OnFailure:      func(_ *http.Request, reason string) { failures.WithLabelValues(reason).Inc() },
	}
	subjectTTL := ac.Revocation.SubjectTTL.D()
	if op := ac.LogoutOperation; op != "" && store != nil {
		if b.spec != nil && !specHasOperation(b, op) {
			return nil, config.AtPath("authn.logout_operation", fmt.Errorf("operation %q is not in the spec", op))
		}
		opts.IsLogout = func(r *http.Request) bool {
			rt := gatehouse.RouteFrom(r.Context())
			return rt != nil && rt.OperationID == op
		}
		opts.OnLogout = func(ctx context.Context, p *authn.Principal) error {
			if (p.Method != "jwt" && p.Method != "introspection") || p.TokenID == "" {
				return nil // API keys are revoked in the keys file
			}
			until := p.ExpiresAt.Add(leeway[p.Issuer])
			if p.ExpiresAt.IsZero() {
				until = now().Add(subjectTTL)
			}
			return store.RevokeToken(ctx, p.TokenID, until)
		}
	}
	st := &authnStage{mw: authn.Middleware(opts)}
	if store != nil {
		st.admin = &revokeHandler{store: store, now: now, ttl: subjectTTL, log: log}
	}
	return st, nil
}

// authnRevocationErrors returns the counter of failed revocation checks,
// registered on reg (or the one a previous pipeline registered there).
func authnRevocationErrors(reg prometheus.Registerer) (prometheus.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_authn_revocation_store_errors_total",
		Help: "Revocation checks that failed because the store did not answer; authn.revocation.on_store_error decided them.",
	})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return old, nil
			}
		}
		return nil, fmt.Errorf("register authn metrics: %w", err)
	}
	return c, nil
}

// memStores holds the process's memory revocation stores, one per size, so
// that a reload (which builds a new pipeline) does not forget who logged out.
var (
	memStoresMu sync.Mutex
	memStores   = map[int]*revocation.Memory{}
)

func processRevocations(max int, now func() time.Time) *revocation.Memory {
	memStoresMu.Lock()
	defer memStoresMu.Unlock()
	m, ok := memStores[max]
	if !ok {
		m = revocation.NewMemory(max, now)
		memStores[max] = m
	}
	return m
}

func specHasOperation(b *builder, op string) bool {
	for _, o := range b.spec.Operations {
		if o.ID == op {
			return true
		}
	}
	return false
}

// buildIssuer turns one authn.jwt[i] entry into a jwt.Issuer, starting its
// key refresher (stopped when the pipeline closes).
func (b *builder) buildIssuer(ctx context.Context, jc *config.JWTIssuer, path string, log *slog.Logger) (*jwt.Issuer, error) {
	src, err := jwt.ParseTokenSource(jc.TokenSource)
	if err != nil {
		return nil, config.AtPath(path+".token_source", err)
	}
	o := jwt.IssuerOptions{
		Issuer: jc.Issuer, Audiences: jc.Audiences, Algorithms: jc.Algorithms,
		Leeway: jc.Leeway.D(), AllowMissingExp: !jc.RequireExp, MaxLifetime: jc.TokenLifetime(),
		RolesClaim: jc.RolesClaim, ScopesClaim: jc.ScopesClaim, Source: src,
		AllowMissingIssuer: !jc.RequireIssuer, AllowMissingAudience: !jc.RequireAudience,
		AllowWeakSecret: jc.AllowWeakSecret, SubjectClaim: jc.SubjectClaim,
	}
	if jc.HSSecret.IsSet() {
		o.HMACSecret = jc.HSSecret.Value()
	}
	switch {
	case len(jc.Keys) > 0:
		set, warns, err := jwt.LoadKeyFiles(jc.Keys...)
		for _, w := range warns {
			log.Warn("key skipped", "issuer", jc.Issuer, "detail", w)
		}
		if err != nil {
			return nil, config.AtPath(path+".keys", err)
		}
		o.Keys = jwt.Static{Set: set}
	case jc.JWKSURL != "" || jc.Discovery:
		ro := jwt.RemoteOptions{URL: jc.JWKSURL, Timeout: jc.FetchTimeout.D(),
			MinRefresh: jc.MinRefresh.D(), MaxRefresh: jc.MaxRefresh.D(), UnknownKIDCooldown: jc.UnknownKIDCooldown.D(),
			MaxStale: jc.JWKSMaxStale.D(), Now: b.now, Logger: log.With("issuer", jc.Issuer)}
		if jc.Discovery {
			ro.DiscoveryIssuer = jc.Issuer
		}
		r, err := jwt.NewRemote(ro)
		if err != nil {
			return nil, config.AtPath(path, err)
		}
		b.onClose(r.Close)
		r.Start(ctx)
		o.Keys = r
		b.addJWKSProbes(r)
	}
	is, err := jwt.NewIssuer(o)
	if err != nil {
		return nil, config.AtPath(path, err)
	}
	if is.WeakSecret() {
		log.Warn("hs_secret is shorter than the hash length (allow_weak_secret): anyone who guesses it can mint tokens for any subject",
			"issuer", jc.Issuer, "secret_bytes", len(o.HMACSecret))
		b.addWeakSecretProbe()
	}
	if !jc.RequireIssuer {
		log.Warn("tokens without iss are accepted for this issuer (require_issuer: false)", "issuer", jc.Issuer)
	}
	return is, nil
}

// addJWKSProbes makes /readyz watch a remote key set: "authn_jwks" fails
// (not ready, 503) while an issuer has no usable keys, never fetched or
// older than jwks_max_stale, since every token of that issuer then fails
// closed; "authn_jwks_refresh" reports degraded while the latest fetch
// failed and the last good keys are serving. With several remote issuers
// each probe covers them all; the body never names a URL.
func (b *builder) addJWKSProbes(r *jwt.Remote) {
	b.addOrJoinProbe(readyProbe{name: "authn_jwks", required: true, check: func(context.Context) error { return r.Ready() }})
	b.addOrJoinProbe(readyProbe{name: "authn_jwks_refresh", check: func(context.Context) error { return degradedErr(r) }})
}

// addOrJoinProbe adds p, or joins its check to the probe of that name.
func (b *builder) addOrJoinProbe(p readyProbe) {
	for i := range b.probes {
		if q := &b.probes[i]; q.name == p.name {
			prev, next := q.check, p.check
			q.check = func(ctx context.Context) error { return errors.Join(prev(ctx), next(ctx)) }
			return
		}
	}
	b.addReadyProbe(p)
}

var errJWKSRefreshFailing = errors.New("the latest jwks fetch failed; serving the last good keys")

func degradedErr(r *jwt.Remote) error {
	if r.Degraded() {
		return errJWKSRefreshFailing
	}
	return nil
}

// errWeakSecret is what the authn_weak_secret readiness probe reports.
var errWeakSecret = errors.New("an issuer accepts HS* tokens signed with a secret shorter than the hash length")

// addWeakSecretProbe makes /readyz report "authn_weak_secret": "degraded"
// (once, however many issuers run with a weak secret): the gateway serves,
// but its authentication is only as strong as a guessable secret.
func (b *builder) addWeakSecretProbe() {
	for _, p := range b.probes {
		if p.name == "authn_weak_secret" {
			return
		}
	}
	b.addReadyProbe(readyProbe{name: "authn_weak_secret", check: func(context.Context) error { return errWeakSecret }})
}

// revokeHandler serves POST /-/revoke on the admin listener:
//
//	{"jti": "..."}                        revoke one token (until "expires", default now+subject_ttl)
//	{"sub": "alice"}                      log alice out everywhere (tokens issued before now)
//	{"sub": "alice", "before": RFC 3339}  ... issued before that time
type revokeHandler struct {
	store revocation.Store
	now   func() time.Time
	ttl   time.Duration
	log   *slog.Logger
}

type revokeRequest struct {
	JTI     string    `json:"jti"`
	Sub     string    `json:"sub"`
	Before  time.Time `json:"before"`
	Expires time.Time `json:"expires"`
}

func (h *revokeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		problem.Write(w, r, http.StatusMethodNotAllowed)
		return
	}
	var req revokeRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || (req.JTI == "") == (req.Sub == "") {
		problem.WriteError(w, r, &problem.Error{Status: http.StatusBadRequest,
			Public: `want {"jti": "..."} or {"sub": "...", "before": "RFC 3339"}`, Err: err})
		return
	}
	now := h.now()
	var err error
	kind := "jti"
	if req.JTI != "" {
		until := req.Expires
		if until.IsZero() {
			until = now.Add(h.ttl)
		}
		err = h.store.RevokeToken(r.Context(), req.JTI, until)
	} else {
		kind = "sub"
		before := req.Before
		if before.IsZero() {
			before = now.Add(time.Second) // covers tokens issued within the current second
		}
		err = h.store.RevokeSubject(r.Context(), req.Sub, before, before.Add(h.ttl))
	}
	if err != nil {
		h.log.Error("admin revoke failed", "kind", kind, "error", err)
		problem.WriteError(w, r, &problem.Error{Status: http.StatusServiceUnavailable, Err: err})
		return
	}
	h.log.Info("admin revoke", "kind", kind, "jti", req.JTI, "sub", req.Sub)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"revoked": kind})
}
