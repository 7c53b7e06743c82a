package gateway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
)

// buildRateLimit compiles the ratelimit stage; a nil Middleware means the stage is off.
func (b *builder) buildRateLimit(ctx context.Context) (gatehouse.Middleware, error) {
	rc := &b.cfg.RateLimits
	if !rc.Enabled() {
		return nil, nil
	}
	tp, err := httpx.ParseTrustedProxies(b.cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("rate_limits: trusted_proxies: %w", err)
	}
	ip := ratelimit.ClientIPFunc(tp.ClientIP)
	onErr, err := ratelimit.ParseStoreErrorMode(rc.OnStoreError)
	if err != nil {
		return nil, err
	}
	opts := ratelimit.Options{
		OnStoreError: onErr,
		MaxKeys:      rc.MaxKeys,
		Backoff:      rc.Backoff.D(),
		BackoffAfter: rc.BackoffAfterFailures,
		Logger:       rlLogger(b).With("component", "ratelimit"),
		ClientIP:     ip,
		Now:          b.now,
	}
	if b.limits != nil {
		// Counters and locks survive a reload while the definitions are unchanged.
		opts.Fallback = b.limits.memoryStore(rc.MaxKeys)
	}
	switch rc.Mode {
	case config.ModeEnforce:
		m := gatehouse.Enforce
		opts.Mode = &m
	case config.ModeMonitor:
		m := gatehouse.Monitor
		opts.Mode = &m
	}
	for i, l := range rc.Limits {
		pol, err := rlPolicy(l.Name, l.Rate, l.Burst)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.limits[%d]: %w", i, err)
		}
		key, err := ratelimit.ParseKey(l.Key, ip)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.limits[%d].key: %w", i, err)
		}
		if err := rlCheckOperations(b, l.Operations); err != nil {
			return nil, config.AtPath(fmt.Sprintf("rate_limits.limits[%d].operations", i), err)
		}
		opts.Limits = append(opts.Limits, ratelimit.Limit{Policy: pol, Operations: l.Operations, Key: key})
	}
	if lg := rc.Login; lg != nil {
		if err := rlCheckOperations(b, lg.Operations); err != nil {
			return nil, config.AtPath("rate_limits.login.operations", err)
		}
		login := &ratelimit.Login{Operations: lg.Operations, AccountField: lg.AccountField,
			ExactAccountField: lg.AccountMatch == "exact", MaxBody: int64(b.cfg.Limits.MaxBody),
			JSONLimits: requestJSONLimits(&b.cfg.Request)}
		if lg.FailureWhen != "" {
			if login.FailureWhen, err = ratelimit.CompileFailureWhen(lg.FailureWhen); err != nil {
				return nil, config.AtPath("rate_limits.login.failure_when", err)
			}
		}
		if lg.PerIP != nil {
			if login.PerIP, err = rlPolicy("login-ip", lg.PerIP.Rate, lg.PerIP.Burst); err != nil {
				return nil, fmt.Errorf("rate_limits.login.per_ip: %w", err)
			}
		}
		if lg.PerAccount != nil {
			if login.PerAccount, err = rlPolicy("login-account", lg.PerAccount.Rate, lg.PerAccount.Burst); err != nil {
				return nil, fmt.Errorf("rate_limits.login.per_account: %w", err)
			}
		}
		if lo := lg.Lockout; lo != nil {
			login.Lockout = &ratelimit.LockoutPolicy{AfterFailures: lo.AfterFailures, Base: lo.Base.D(), Max: lo.Max.D()}
		}
		opts.Login = login
	}
	if rc.IsRedis() {
		r := rc.Redis
		st, err := redislimit.New(redislimit.Options{
			URL: rc.Store, Cluster: rc.Cluster,
			PoolSize: r.PoolSize, MinIdleConns: r.MinIdleConns,
			DialTimeout: r.DialTimeout.D(), ReadTimeout: r.ReadTimeout.D(), WriteTimeout: r.WriteTimeout.D(),
			Timeout: r.Timeout.D(), Prefix: r.Prefix, ClientTime: r.ClientTime,
		})
		if err != nil {
			return nil, config.AtPath("rate_limits.store", err)
		}
		b.onClose(st.Close)
		opts.Store = st
	}
	var obs *rateLimitMetrics
	if b.metrics != nil {
		if obs, err = newRateLimitMetrics(b.metrics, rc.IsRedis()); err != nil {
			return nil, err
		}
		opts.Observer = obs
	}
	if st, ok := opts.Store.(*redislimit.Store); ok {
		// Not fatal: on_store_error decides what happens while it is down.
		err := st.Ping(ctx)
		if err != nil {
			opts.Logger.Warn("rate-limit redis not reachable at startup", "on_store_error", onErr.String(), "err", err)
		}
		if obs != nil {
			obs.setStoreUp(err == nil)
		}
		// /readyz: with on_store_error deny a Redis outage is an API outage,
		// so the gateway reports not ready; with local or allow it keeps
		// serving and reports the store degraded.
		b.addReadyProbe(readyProbe{
			name:     "ratelimit_store",
			check:    st.Ping,
			required: onErr == ratelimit.OnErrorDeny,
			observe: func(up bool) {
				if obs != nil {
					obs.setStoreUp(up)
				}
			},
		})
	}
	mw, err := ratelimit.New(opts)
	if err != nil {
		return nil, err
	}
	if opts.Login != nil && opts.Login.FailureWhen != nil {
		// failure_when reads the upstream's own answer, before the
		// response filter changes it.
		b.upstreamTaps = append(b.upstreamTaps, mw.UpstreamTap)
	}
	return mw.Wrap, nil
}

func rlPolicy(name, rate string, burst int) (*ratelimit.Policy, error) {
	r, err := ratelimit.ParseRate(rate)
	if err != nil {
		return nil, err
	}
	return ratelimit.NewPolicy(name, r, burst)
}

// rlCheckOperations fails on an operationId the spec does not have: a typo in
// a login operation would otherwise switch brute-force protection off.
func rlCheckOperations(b *builder, ids []string) error {
	if b.spec == nil {
		return nil
	}
	for _, id := range ids {
		if b.spec.Operation(id) == nil {
			return fmt.Errorf("operation %q is not in the spec", id)
		}
	}
	return nil
}

// rlLogger returns the builder's logger or a discarding one.
func rlLogger(b *builder) *slog.Logger {
	if b.log != nil {
		return b.log
	}
	return slog.New(slog.DiscardHandler)
}

type rateLimitMetrics struct {
	decisions   *prometheus.CounterVec
	storeErrors prometheus.Counter
	storeUp     prometheus.Gauge
}

// setStoreUp records the last Redis probe (startup, /readyz) or failure.
func (m *rateLimitMetrics) setStoreUp(up bool) {
	switch {
	case m.storeUp == nil:
	case up:
		m.storeUp.Set(1)
	default:
		m.storeUp.Set(0)
	}
}

func newRateLimitMetrics(reg prometheus.Registerer, redisStore bool) (*rateLimitMetrics, error) {
	m := &rateLimitMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_decisions_total",
			Help: "Rate-limit decisions by limit and outcome (allowed, limited, monitored, store_error, key_error).",
		}, []string{"limit", "outcome"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_store_errors_total",
			Help: "Failed calls to the shared rate-limit store (Redis).",
		}),
	}
	var err error
	if redisStore { // a memory store has no store to be down
		storeUp := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_ratelimit_store_up",
			Help: "1 if the rate-limit Redis answered the last PING (at startup and on each /readyz), 0 if not or if a decision just failed.",
		})
		if m.storeUp, err = rlRegister[prometheus.Gauge](reg, storeUp); err != nil {
			return nil, err
		}
	}
	if m.decisions, err = rlRegister(reg, m.decisions); err != nil {
		return nil, err
	}
	if m.storeErrors, err = rlRegister(reg, m.storeErrors); err != nil {
		return nil, err
	}
	return m, nil
}

// rlRegister registers c, or reuses the collector already registered under
// the same name (a reloaded pipeline keeps counting in the same series).
func rlRegister[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		return c, fmt.Errorf("register rate-limit metrics: %w", err)
	}
	return c, nil
}

func (m *rateLimitMetrics) Decision(limit, outcome string) {
	m.decisions.WithLabelValues(limit, outcome).Inc()
}

func (m *rateLimitMetrics) StoreError() {
	m.storeErrors.Inc()
	m.setStoreUp(false)
}
