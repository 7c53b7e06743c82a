package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/logbuf"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/problem"
)

// ServerOptions configures a Server. ConfigPath is required.
type ServerOptions struct {
	// ConfigPath is the gatehouse.yaml to load (and reload).
	ConfigPath string
	// Logger overrides the logger built from the config's log section.
	Logger *slog.Logger
	// LogOutput is where the config-built logger writes (default os.Stderr).
	LogOutput io.Writer
	// Registry receives the metrics (default: a new registry with the Go
	// and process collectors).
	Registry *prometheus.Registry
	// EnableReload turns on POST /-/reload on the admin listener.
	EnableReload bool
	// Watch reloads when the config, spec or a spec_overlays file changes.
	Watch bool
	// WatchDebounce groups bursts of file events (default 250ms).
	WatchDebounce time.Duration
	// PublicListener and AdminListener replace the configured addresses (tests).
	PublicListener, AdminListener net.Listener
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnReload, when set, is called after every reload attempt (tests, wiring).
	OnReload func(error)
}

// Server serves the current Pipeline on the public listener and the ops
// endpoints on the admin listener. The pipeline pointer is swapped
// atomically on reload; each request loads it exactly once.
//
// Listener-level settings (listen, admin, tls on/off, timeouts of the
// listener, limits.max_header_bytes) are read at start; changing them needs
// a restart (a reload logs a warning). Everything else, the TLS key pair
// included, takes effect on reload.
type Server struct {
	opts    ServerOptions
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *Metrics
	now     func() time.Time

	// limits is the rate-limit state every pipeline of this server shares.
	limits *LimitState
	// specs returns the running spec again on a reload that changed no
	// spec file (see openapi.Cache).
	specs *openapi.Cache

	pipe     atomic.Pointer[Pipeline]
	reloadMu sync.Mutex
	closing  sync.WaitGroup // old pipelines draining

	// watching is closed once the file watch is set up (or failed).
	watching chan struct{}

	probeMu   sync.Mutex
	probeAt   time.Time
	probeErr  error
	probeHost string

	// logw buffers the config-built logger's output while Run serves
	// (nil when ServerOptions.Logger is set); see internal/logbuf.
	logw *logbuf.Writer
	// accessJSON is logw when the access lines may bypass slog (JSON
	// format, INFO enabled): Deps.AccessJSON.
	accessJSON io.Writer
}

// NewLogger builds the process logger from the log section.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	ho := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}

// NewServer loads, validates and builds the config at opts.ConfigPath.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	cfg, err := config.Check(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, reg: opts.Registry, now: opts.Now, log: opts.Logger, watching: make(chan struct{}), limits: NewLimitState(), specs: &openapi.Cache{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		out := opts.LogOutput
		if out == nil {
			out = os.Stderr
		}
		s.logw = logbuf.New(out, 0, 0) // writes through until Run starts it
		s.log = NewLogger(cfg.Log, s.logw)
		if cfg.Log.Format != "text" && s.log.Enabled(ctx, slog.LevelInfo) {
			s.accessJSON = s.logw // the same bytes as s.log's JSON handler, without slog
		}
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.metrics, err = NewMetrics(s.reg); err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("config warning", "problem", w.String())
	}
	p, err := Build(ctx, cfg, s.deps())
	if err != nil {
		return nil, cfg.Locate(err)
	}
	s.pipe.Store(p)
	s.metrics.ReloadOK.Set(1)
	s.metrics.ReloadOKTime.Set(float64(s.now().Unix()))
	return s, nil
}

func (s *Server) deps() Deps {
	return Deps{Logger: s.log, Registry: s.reg, Metrics: s.metrics, Now: s.now, Limits: s.limits, Specs: s.specs, AccessJSON: s.accessJSON}
}

// Pipeline returns the pipeline currently serving.
func (s *Server) Pipeline() *Pipeline { return s.pipe.Load() }

// Registry returns the metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// ServeHTTP serves r with the current pipeline. A pipeline that started
// closing between the load and the acquire is skipped for the newer one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range 4 {
		p := s.pipe.Load()
		if p.Acquire() {
			defer p.Release()
			p.handler.ServeHTTP(w, r)
			return
		}
	}
	problem.Write(w, r, http.StatusServiceUnavailable)
}

// Reload loads, validates and builds the config again and swaps the new
// pipeline in; the old one is closed after its in-flight requests drain.
// On failure the running pipeline keeps serving and
// gatehouse_config_last_reload_successful is set to 0.
func (s *Server) Reload(ctx context.Context) (err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	defer func() {
		if s.opts.OnReload != nil {
			s.opts.OnReload(err)
		}
	}()
	cfg, err := config.Check(s.opts.ConfigPath)
	var p *Pipeline
	if err == nil {
		p, err = buildRecovered(ctx, cfg, s.deps())
		err = cfg.Locate(err)
	}
	if err != nil {
		s.metrics.ReloadOK.Set(0)
		s.log.Error("config reload failed; the running config keeps serving", "config", s.opts.ConfigPath, "error", err)
		return err
	}
	old := s.pipe.Swap(p)
	s.metrics.ReloadOK.Set(1)
	s.metrics.ReloadOKTime.Set(float64(s.now().Unix()))
	for _, w := range cfg.Warnings() {
		s.log.Warn("config warning", "problem", w.String())
	}
	if restartNeeded(old.cfg, cfg) {
		s.log.Warn("listener settings changed (listen, admin, tls on/off, listener timeouts or limits.max_header_bytes); they take effect after a restart")
	}
	s.log.Info("config reloaded", "config", s.opts.ConfigPath, "operations", len(p.spec.Operations))
	s.closing.Add(1)
	go func() {
		defer s.closing.Done()
		if err := old.Close(); err != nil {
			s.log.Warn("closing the previous pipeline", "error", err)
		}
	}()
	return nil
}

// errBuildPanic is wrapped by a reload error caused by a panic inside Build.
var errBuildPanic = errors.New("panic while building the pipeline")

// buildRecovered is Build with a panic turned into an error, so that a
// reload that fails in any way keeps the running pipeline. (A stack
// overflow cannot be recovered: openapi.Load refuses the documents that
// would cause one before recursing over them.)
func buildRecovered(ctx context.Context, cfg *config.Config, deps Deps) (p *Pipeline, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: %v", errBuildPanic, r)
		}
	}()
	return Build(ctx, cfg, deps)
}

func restartNeeded(a, b *config.Config) bool {
	ta, tb := a.Timeouts, b.Timeouts
	return a.Listen != b.Listen || a.Admin != b.Admin || a.TLS.Enabled() != b.TLS.Enabled() ||
		ta.ReadHeader != tb.ReadHeader || ta.Read != tb.Read || ta.Write != tb.Write || ta.Idle != tb.Idle ||
		a.Limits.MaxHeaderBytes != b.Limits.MaxHeaderBytes || a.Limits.MaxConns != b.Limits.MaxConns
}

// tlsCipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with
// AEAD ciphers only (TLS 1.3 suites are not configurable and all modern).
var tlsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the public listener's TLS settings: TLS 1.2 minimum,
// forward-secret AEAD suites, HTTP/2 and HTTP/1.1 via ALPN, and the key pair
// of the current pipeline (so a reload rotates the certificate).
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tlsCipherSuites,
		NextProtos:   []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.pipe.Load().cert; c != nil {
				return c, nil
			}
			return nil, errors.New("no certificate configured")
		},
	}
}

// Run listens and serves until ctx is done, then shuts down gracefully:
// listeners close, in-flight requests get timeouts.shutdown to finish, and
// the pipeline is closed.
func (s *Server) Run(ctx context.Context) error {
	cfg := s.pipe.Load().cfg
	if s.logw != nil {
		// One write per flush (100 ms or 32 KiB) instead of one per
		// request; flushed when Run returns, after the drain.
		s.logw.Start(0, nil)
		defer s.logw.Close()
	}
	t := cfg.Timeouts
	errLog := slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelDebug)
	public := &http.Server{
		Handler:           s.h2Framing(s),
		ReadHeaderTimeout: t.ReadHeader.D(),
		ReadTimeout:       t.Read.D(),
		WriteTimeout:      t.Write.D(),
		IdleTimeout:       t.Idle.D(),
		MaxHeaderBytes:    int(cfg.Limits.MaxHeaderBytes),
		ErrorLog:          errLog,
		// "OPTIONS *" goes through the pipeline (and is rejected there).
		DisableGeneralOptionsHandler: true,
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(cfg.TLS.Enabled()) // h2 over TLS only; h2c stays off
	public.Protocols = &protos
	ln := s.opts.PublicListener
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
	}
	if cfg.Limits.MaxConns > 0 {
		// Our own limit listener (limitlistener.go): netutil's hides
		// CloseWrite, so refused requests' answers arrived as resets.
		ln = newLimitListener(ln, cfg.Limits.MaxConns)
	}
	// Request framing checks (framing.go) on HTTP/1.x, over TLS too
	// (tlslistener.go: the handshake is done here, h2 goes to net/http as is).
	fl := newFramingListener(ln, int(cfg.Limits.MaxHeaderBytes),
		func() bool { return s.pipe.Load().cfg.Request.StrictFraming }, framingRefused(s.log, s.metrics))
	if cfg.TLS.Enabled() {
		public.TLSConfig = s.TLSConfig()
		ln = newHandshakeListener(ln, public.TLSConfig, tlsHandshakeTimeout(t.ReadHeader.D(), t.Read.D(), t.Write.D()),
			fl.(*framingListener).wrapTLS, s.log.With("component", "http"))
	} else {
		ln = fl
	}
	errc := make(chan error, 2)
	go func() { errc <- public.Serve(ln) }()
	s.log.Info("gateway listening", "addr", ln.Addr().String(), "tls", cfg.TLS.Enabled(), "upstream", cfg.Upstream)

	var admin *http.Server
	aln := s.opts.AdminListener
	if aln == nil && cfg.Admin != "" {
		if aln, err = net.Listen("tcp", cfg.Admin); err != nil {
			_ = public.Close()
			return fmt.Errorf("listen admin %s: %w", cfg.Admin, err)
		}
	}
	if aln != nil && !loopbackAddr(aln.Addr()) && s.pipe.Load().adminToken == nil {
		_ = public.Close()
		_ = aln.Close()
		return fmt.Errorf("admin listener %s is not loopback-only and admin_auth has no token: refusing to start", aln.Addr())
	}
	if aln != nil {
		admin = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, ErrorLog: errLog}
		go func() { errc <- admin.Serve(aln) }()
		s.log.Info("admin listening", "addr", aln.Addr().String(), "reload_endpoint", s.opts.EnableReload)
	}
	if s.opts.Watch {
		go s.watch(ctx)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down", "drain_timeout", t.Shutdown.D().String())
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown.D())
	defer cancel()
	if err := public.Shutdown(sctx); err != nil {
		s.log.Warn("public listener did not drain in time", "error", err)
	}
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	s.closing.Wait()
	if err := s.pipe.Load().Close(); err != nil {
		s.log.Warn("closing pipeline", "error", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// AdminHandler serves /healthz, /readyz, /metrics and (when enabled) POST /-/reload.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.registerPprof(mux) // config key pprof: off by default
	// Revocation (log out a jti, or a subject everywhere) goes to the current
	// pipeline's store; 404 when the config has no revocation store.
	mux.HandleFunc("POST /-/revoke", func(w http.ResponseWriter, r *http.Request) {
		p := s.pipe.Load()
		if !s.adminAuthorized(w, r) {
			return
		}
		if p == nil || p.revoke == nil {
			problem.Write(w, r, http.StatusNotFound)
			return
		}
		p.revoke.ServeHTTP(w, r)
	})
	if s.opts.EnableReload {
		mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
			if !s.adminAuthorized(w, r) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if err := s.Reload(r.Context()); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				_ = json.NewEncoder(w).Encode(map[string]string{"status": "failed", "error": err.Error()})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "reloaded"})
		})
	}
	return mux
}

// probeTTL is how long an upstream reachability result is reused.
const probeTTL = 2 * time.Second

// upstreamReachable dials the upstream (1s timeout), caching the result.
func (s *Server) upstreamReachable(ctx context.Context, upstream string) error {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	now := s.now()
	if s.probeHost == upstream && !s.probeAt.IsZero() && now.Sub(s.probeAt) < probeTTL {
		return s.probeErr
	}
	u, err := url.Parse(upstream)
	if err == nil {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443"}[u.Scheme]+map[string]string{"http": "80"}[u.Scheme])
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		var c net.Conn
		c, err = (&net.Dialer{}).DialContext(dctx, "tcp", host)
		cancel()
		if err == nil {
			_ = c.Close()
		}
	}
	s.probeHost, s.probeAt, s.probeErr = upstream, now, err
	return err
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	p := s.pipe.Load()
	checks := map[string]string{"spec": "ok", "upstream": "ok"}
	ok := true
	var degraded []string
	if p == nil || p.spec == nil {
		checks["spec"], ok = "not loaded", false
	}
	if p != nil {
		if err := s.upstreamReachable(r.Context(), p.cfg.Upstream); err != nil {
			checks["upstream"], ok = "unreachable", false
			s.log.Warn("readiness: upstream unreachable", "error", err)
		}
		// Pipeline dependencies (the rate limiter's Redis): see ready.go.
		var pok bool
		pok, degraded = runReadyProbes(r.Context(), p.probes, checks)
		ok = ok && pok
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status := "ready"
	if !ok {
		status = "not ready"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	body := map[string]any{"status": status, "checks": checks}
	if len(degraded) > 0 {
		body["degraded"] = degraded
	}
	_ = json.NewEncoder(w).Encode(body)
}

// watch reloads when the config file, the spec file or a spec_overlays
// file (those of the config at startup) changes. It watches
// their directories (editors and Kubernetes ConfigMaps replace files by
// rename) and debounces bursts of events.
func (s *Server) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		close(s.watching)
		s.log.Error("file watch unavailable; reload with SIGHUP", "error", err)
		return
	}
	defer w.Close()
	names := map[string]bool{}
	dirs := map[string]bool{}
	add := func(p string) {
		if p == "" || strings.Contains(p, "://") {
			return
		}
		if abs, err := filepath.Abs(p); err == nil {
			names[abs] = true
			dirs[filepath.Dir(abs)] = true
		}
	}
	add(s.opts.ConfigPath)
	add(s.pipe.Load().cfg.Spec)
	for _, o := range s.pipe.Load().cfg.SpecOverlays {
		add(o)
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			s.log.Error("file watch failed", "dir", d, "error", err)
		}
	}
	close(s.watching)
	debounce := s.opts.WatchDebounce
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			abs, _ := filepath.Abs(ev.Name)
			if !names[abs] && !strings.HasPrefix(filepath.Base(ev.Name), "..") {
				continue
			}
			if timer == nil {
				timer = time.AfterFunc(debounce, func() {
					select {
					case fire <- struct{}{}:
					default:
					}
				})
			} else {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			s.log.Warn("file watch error", "error", err)
		case <-fire:
			s.log.Info("config file changed; reloading")
			_ = s.Reload(ctx)
		}
	}
}
