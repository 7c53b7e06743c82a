// Package gateway compiles a config.Config into an immutable Pipeline (Build)
// and serves it (Server), swapping pipelines atomically on reload.
//
// The request path, outermost first: request record + access log → panic
// recovery → security headers → CORS → route match → authn → rate limit →
// authz → request validation → response filter → proxy. Every stage is a
// gatehouse.Middleware; a stage builder returning nil means "off".
//
// Design choices: config is compiled once per Build (no maps of any survive),
// so a request never parses config; reload builds a whole new Pipeline and
// swaps a pointer, so a request sees one consistent policy from start to end.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/secheaders"
)

// builder carries what every stage builder needs while Build runs.
// Stage builders live in stage_*.go, one file per stage.
type builder struct {
	cfg  *config.Config
	spec *openapi.Spec
	log  *slog.Logger
	// metrics is shared by every pipeline of a process: register with
	// "reuse the existing collector on AlreadyRegisteredError".
	metrics prometheus.Registerer
	// now is the clock (time.Now unless a test injects one).
	now func() time.Time
	// closers run, in reverse order, when the pipeline closes or Build fails.
	closers []func() error
	// revoke is the authn stage's POST /-/revoke handler (nil: revocation off).
	revoke http.Handler
	// probes are the dependencies /readyz checks (see ready.go).
	probes []readyProbe
	// limits is Deps.Limits (nil: fresh state per pipeline).
	limits *LimitState
	// upstreamTaps run innermost, directly in front of the proxy (they see
	// the upstream's own answer).
	upstreamTaps []gatehouse.Middleware
}

// onClose registers f to run when the pipeline is closed (or Build fails).
func (b *builder) onClose(f func() error) { b.closers = append(b.closers, f) }

// Deps are the process-wide things a pipeline uses but does not own.
type Deps struct {
	// Logger receives the access log and every stage's log; nil discards.
	Logger *slog.Logger
	// Registry is where metrics are registered (shared across reloads);
	// nil uses a private registry.
	Registry prometheus.Registerer
	// Metrics are the core request metrics; nil creates them on Registry.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits keeps in-memory rate-limit and lockout state across the
	// pipelines built with it (a Server passes one for its lifetime); nil:
	// each pipeline starts with empty counters.
	Limits *LimitState
	// Specs, when set, returns the previous pipeline's spec (and so its
	// compiled schemas) when the spec files did not change; a Server
	// passes one for its lifetime so that such a reload is cheap. Nil:
	// every Build loads the spec.
	Specs *openapi.Cache
	// TracerProvider, when set, receives the spans of a pipeline whose
	// config has tracing.enabled, instead of the OTLP exporter built from
	// tracing.* (tests use an in-memory recorder). Nil: the config's.
	TracerProvider trace.TracerProvider
	// AccessJSON, when set, receives the access log lines directly, in the
	// bytes slog.NewJSONHandler would write for Logger (component=access,
	// level INFO), from an allocation-free encoder instead of through
	// Logger. Set it only when Logger is exactly slog.NewJSONHandler on this
	// writer with no other attributes, and INFO enabled (the Server does
	// so for the logger it builds itself). Nil: the lines go through Logger.
	AccessJSON io.Writer
}

// Pipeline is one compiled configuration: an immutable http.Handler plus
// the resources its stages hold. It is safe for concurrent use. Close waits
// for in-flight requests (up to the shutdown timeout) and then releases the
// resources; a request that arrives after Close started is refused by
// Acquire so the Server can retry it on the newer pipeline.
type Pipeline struct {
	cfg     *config.Config
	spec    *openapi.Spec
	handler http.Handler
	proxy   *proxy.Proxy
	cert    *tls.Certificate
	closers []func() error
	drain   time.Duration
	revoke  http.Handler // admin POST /-/revoke; nil when revocation is off
	probes  []readyProbe // /readyz dependency checks (ready.go)

	// adminToken guards the mutating admin endpoints; nil: none configured.
	adminToken []byte

	// overlays summarizes spec_overlays and routes edits (overlay.go).
	overlays *openapi.OverlayReport

	inflight atomic.Int64
	closing  atomic.Bool
	idle     chan struct{}
	closed   atomic.Bool
}

// Config returns the configuration the pipeline was built from (read only).
func (p *Pipeline) Config() *config.Config { return p.cfg }

// Spec returns the loaded OpenAPI spec.
func (p *Pipeline) Spec() *openapi.Spec { return p.spec }

// Acquire marks a request in flight; it returns false once Close started.
// Every successful Acquire must be paired with Release.
func (p *Pipeline) Acquire() bool {
	p.inflight.Add(1)
	if p.closing.Load() {
		p.Release()
		return false
	}
	return true
}

// Release ends a request started with Acquire.
func (p *Pipeline) Release() {
	if p.inflight.Add(-1) == 0 && p.closing.Load() {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

// ServeHTTP runs the request through the pipeline.
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.Acquire() {
		http.Error(w, "pipeline closed", http.StatusServiceUnavailable)
		return
	}
	defer p.Release()
	p.handler.ServeHTTP(w, r)
}

// Close waits for in-flight requests to finish (at most the configured
// shutdown timeout), then runs the stage closers in reverse order.
// It is idempotent.
func (p *Pipeline) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.closing.Store(true)
	if p.inflight.Load() > 0 {
		t := time.NewTimer(p.drain)
		defer t.Stop()
	wait:
		for p.inflight.Load() > 0 {
			select {
			case <-p.idle:
			case <-t.C:
				break wait
			}
		}
	}
	return runClosers(p.closers)
}

func runClosers(cs []func() error) error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Build compiles cfg into a Pipeline: it loads the spec, builds the proxy
// and every stage (outermost first, see the package doc). cfg must have
// passed config.Validate. On error everything started so far is closed; an
// error about a config key is wrapped with config.AtPath.
func Build(ctx context.Context, cfg *config.Config, deps Deps) (p *Pipeline, err error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	m := deps.Metrics
	if m == nil {
		if m, err = NewMetrics(reg); err != nil {
			return nil, err
		}
	}
	b := &builder{cfg: cfg, log: log, metrics: reg, now: now, limits: deps.Limits}
	defer func() {
		if err != nil {
			if cerr := runClosers(b.closers); cerr != nil {
				log.Warn("cleanup after failed build", "error", cerr)
			}
			p = nil
		}
	}()

	var overlays *openapi.OverlayReport
	if deps.Specs != nil && len(cfg.SpecOverlays) == 0 && len(routeEdits(cfg)) == 0 {
		// The reload cache keys on the spec's files only: overlays and
		// routes edits (config, not files) take the uncached path.
		b.spec, _, err = deps.Specs.Load(cfg.Spec)
		if err != nil {
			return nil, config.AtPath("spec", err)
		}
		overlays = &openapi.OverlayReport{}
	} else if b.spec, overlays, err = loadSpec(cfg); err != nil {
		return nil, err
	}
	trusted, err := httpx.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, config.AtPath("trusted_proxies", err)
	}
	up, err := url.Parse(cfg.Upstream)
	if err != nil {
		return nil, config.AtPath("upstream", err)
	}
	t := cfg.Timeouts
	px, err := proxy.New(proxy.Options{
		Upstream:              up,
		Trusted:               trusted,
		DialTimeout:           t.UpstreamDial.D(),
		TLSHandshakeTimeout:   t.UpstreamTLSHandshake.D(),
		ResponseHeaderTimeout: t.UpstreamResponseHeader.D(),
		IdleConnTimeout:       t.UpstreamIdle.D(),
		Logger:                log,
		OwnedHeaders:          ownedHeaders(cfg),
		AllowTrailers:         cfg.Request.AllowTrailers,
		OnTrailersDropped:     trailerCounter(reg),
		PublicHost:            cfg.Forwarding.Host,
		AllowedHosts:          cfg.Forwarding.AllowedHosts,
	})
	if err != nil {
		return nil, config.AtPath("upstream", err)
	}
	b.onClose(px.Close)

	adminToken, err := cfg.AdminAuth.Token()
	if err != nil {
		return nil, config.AtPath("admin_auth", err)
	}

	var cert *tls.Certificate
	if cfg.TLS.Enabled() {
		c, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, config.AtPath("tls.cert_file", fmt.Errorf("load key pair: %w", err))
		}
		cert = &c
	}

	var headers gatehouse.Middleware
	if cfg.Headers.Preset == "strict" {
		pol := secheaders.Strict()
		pol.HSTSMaxAge = cfg.Headers.HSTSMaxAge.D()
		headers = pol.Handler
	}
	headers = withHeaderEdits(headers, cfg.Headers)
	var cors gatehouse.Middleware
	if cfg.CORS.Enabled() {
		c, err := secheaders.NewCORS(secheaders.CORSOptions{
			AllowOrigins:     cfg.CORS.AllowOrigins,
			AllowCredentials: cfg.CORS.AllowCredentials,
			AllowMethods:     cfg.CORS.AllowMethods,
			AllowHeaders:     cfg.CORS.AllowHeaders,
			ExposeHeaders:    cfg.CORS.ExposeHeaders,
			MaxAge:           cfg.CORS.MaxAge.D(),
		})
		if err != nil {
			return nil, config.AtPath("cors", err)
		}
		cors = c.Handler
	}
	routes, err := newRouteStage(b.spec, cfg)
	if err != nil {
		return nil, err
	}
	tr, err := b.buildTracing(deps.TracerProvider, up)
	if err != nil {
		return nil, err
	}

	stages := []struct {
		name  string
		build func(context.Context) (gatehouse.Middleware, error)
	}{
		{"cookies", b.buildCookies},
		{"authn", b.buildAuthn},
		{"rate_limits", b.buildRateLimit},
		{"rate_limits.concurrency", b.buildInFlight},
		{"waf", b.buildWAF},
		{"authz", b.buildAuthz},
		{"request", b.buildRequestValidation},
		{"request.operations.credential", b.buildCredential},
		{"response", b.buildResponseFilter},
	}
	chain := []gatehouse.Middleware{
		accessLog(log, deps.AccessJSON, m, trusted, cfg, now),
		tr.Request(),
		recoverPanics(log),
		headers,
		cors,
		tr.Route(routes.middleware),
	}
	for _, s := range stages {
		mw, err := s.build(ctx)
		if err != nil {
			var pe *config.PathError
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, config.AtPath(s.name, fmt.Errorf("build %s stage: %w", s.name, err))
		}
		chain = append(chain, traced(tr, s.name, mw))
	}
	chain = append(chain, b.upstreamTaps...)
	chain = append(chain, tr.Upstream())
	if err := checkStrictPatterns(cfg, b.spec); err != nil {
		return nil, err
	}
	return &Pipeline{
		cfg:     cfg,
		spec:    b.spec,
		handler: gatehouse.Chain(chain...)(px),
		proxy:   px,
		cert:    cert,
		closers: b.closers,
		drain:   cfg.Timeouts.Shutdown.D(),
		revoke:  b.revoke,
		probes:  b.probes,
		idle:    make(chan struct{}, 1),

		overlays: overlays,

		adminToken: adminToken,
	}, nil
}
