// Package proxy is gatehouse's reverse proxy to the upstream API: a
// net/http/httputil.ReverseProxy with a Rewrite hook (never Director) so the
// hop-by-hop and forwarding-header rules of the standard library apply first.
//
// What it guarantees:
//   - the path sent upstream is exactly the canonical raw path the router
//     matched (set with WithTargetPath), plus the original raw query; the
//     client's own spelling of the path (r.URL.Path) is never forwarded;
//   - X-Forwarded-*, Forwarded, X-Real-IP and similar headers from a client
//     that is not a trusted proxy are dropped and replaced by the gateway's
//     own; from a trusted proxy they are kept and the peer is appended;
//   - protocol upgrades are refused (the OpenAPI contract describes none);
//   - every upstream 5xx leaves as a generic problem+json body carrying the
//     request ID; the upstream status and a bounded body excerpt go to the
//     log under that request ID; transport failures become 502 (or 504 on a
//     timeout) the same way;
//   - the transport has dial, TLS-handshake and response-header timeouts and
//     ignores HTTP(S)_PROXY from the environment.
package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/secheaders"
)

// ErrNoTarget: the request reached the proxy without a matched route.
var ErrNoTarget = errors.New("proxy: request has no routed target path")

// DefaultExcerpt is how much of an upstream error body is logged.
const DefaultExcerpt = 2 << 10

// Options configures a Proxy. Upstream is required.
type Options struct {
	// Upstream is the base URL; its path is prefixed to every forwarded path.
	Upstream *url.URL
	// Trusted lists the peers whose forwarding headers are honoured.
	Trusted httpx.TrustedProxies
	// Timeouts for the upstream transport; zero values get safe defaults.
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	IdleConnTimeout       time.Duration
	// MaxIdleConnsPerHost bounds the idle pool (default 256).
	MaxIdleConnsPerHost int
	// Excerpt bounds the logged upstream error body (default DefaultExcerpt).
	Excerpt int
	// Logger receives upstream errors; nil discards.
	Logger *slog.Logger
	// Transport replaces the built transport (tests).
	Transport http.RoundTripper
}

// Proxy forwards routed requests to the upstream. It is safe for concurrent
// use; Close releases idle upstream connections.
type Proxy struct {
	rp        *httputil.ReverseProxy
	transport *http.Transport
	base      *url.URL
	trusted   httpx.TrustedProxies
	log       *slog.Logger
	excerpt   int
}

type targetKey struct{}

// WithTargetPath returns ctx carrying the canonical, already-encoded path
// to forward (openapi.Match.RawPath).
func WithTargetPath(ctx context.Context, rawPath string) context.Context {
	return context.WithValue(ctx, targetKey{}, rawPath)
}

// TargetPath returns the path set by WithTargetPath.
func TargetPath(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(targetKey{}).(string)
	return p, ok
}

// New builds a Proxy.
func New(o Options) (*Proxy, error) {
	if o.Upstream == nil || o.Upstream.Host == "" || (o.Upstream.Scheme != "http" && o.Upstream.Scheme != "https") {
		return nil, fmt.Errorf("proxy: upstream must be an absolute http(s) URL")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, 5*time.Second)
	def(&o.TLSHandshakeTimeout, 5*time.Second)
	def(&o.ResponseHeaderTimeout, 30*time.Second)
	def(&o.IdleConnTimeout, 90*time.Second)
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 256
	}
	if o.Excerpt <= 0 {
		o.Excerpt = DefaultExcerpt
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{base: o.Upstream, trusted: o.Trusted, log: log.With("component", "proxy"), excerpt: o.Excerpt}
	rt := o.Transport
	if rt == nil {
		p.transport = &http.Transport{
			Proxy: nil, // never route upstream traffic through an environment proxy
			DialContext: (&net.Dialer{
				Timeout:   o.DialTimeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
			ResponseHeaderTimeout: o.ResponseHeaderTimeout,
			IdleConnTimeout:       o.IdleConnTimeout,
			MaxIdleConns:          4 * o.MaxIdleConnsPerHost,
			MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		}
		rt = p.transport
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      rt,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		FlushInterval:  -1, // stream: the gateway adds no buffering of its own
		BufferPool:     copyBuffers,
	}
	return p, nil
}

// bufferPool recycles the 32 KiB body-copy buffers of ReverseProxy.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var copyBuffers = &bufferPool{}

// Close releases idle upstream connections.
func (p *Proxy) Close() error {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}

// ServeHTTP forwards r. The request must carry a target path (WithTargetPath).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := TargetPath(r.Context()); !ok {
		p.log.Error("proxy reached without a route", "request_id", gatehouse.RecordFrom(r.Context()).Snapshot().RequestID, "error", ErrNoTarget)
		problem.WriteError(w, r, ErrNoTarget)
		return
	}
	// Refuse protocol upgrades: ReverseProxy would otherwise tunnel them.
	r.Header.Del("Upgrade")
	p.rp.ServeHTTP(w, r)
}

// joinPath prefixes the upstream base path to the canonical raw path.
func joinPath(base, raw string) string {
	if base == "" || base == "/" {
		return raw
	}
	return strings.TrimSuffix(base, "/") + raw
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	raw, _ := TargetPath(in.Context())
	rawPath := joinPath(p.base.EscapedPath(), raw)
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		path = rawPath // RawPath is canonical; this cannot happen for router output
	}
	out.URL.Scheme = p.base.Scheme
	out.URL.Host = p.base.Host
	out.URL.Path = path
	out.URL.RawPath = rawPath
	out.URL.RawQuery = in.URL.RawQuery
	out.URL.Fragment, out.URL.RawFragment = "", ""
	out.Host = "" // send the upstream's own host

	// Forwarding headers: ReverseProxy already removed X-Forwarded-For/Host/Proto
	// from out; drop every other spelling and alias too.
	httpx.StripForwardingHeaders(out.Header)
	trusted := p.isTrustedPeer(in)
	if trusted {
		for _, k := range []string{"X-Forwarded-For", "Forwarded"} {
			if v := in.Header.Values(k); len(v) > 0 {
				out.Header[k] = append([]string(nil), v...)
			}
		}
	}
	pr.SetXForwarded() // appends the peer to a kept X-Forwarded-For
	if trusted {
		for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := in.Header.Get(k); v != "" {
				out.Header.Set(k, v)
			}
		}
	}
	if ip := p.trusted.ClientIP(in); ip.IsValid() {
		out.Header.Set("X-Real-Ip", ip.String())
	}
	// Identity headers are stripped from the client request before authn
	// runs; this catches any '_' spelling a later stage may have let in.
	for k := range out.Header {
		if strings.Contains(k, "_") && strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), httpx.IdentityHeaderPrefix) {
			delete(out.Header, k)
		}
	}
}

func (p *Proxy) isTrustedPeer(r *http.Request) bool {
	return p.trusted.Trusts(httpx.PeerAddr(r))
}

func requestID(ctx context.Context) string { return gatehouse.RecordFrom(ctx).Snapshot().RequestID }

func (p *Proxy) modifyResponse(resp *http.Response) error {
	for _, k := range secheaders.Fingerprint {
		resp.Header.Del(k)
	}
	if resp.StatusCode < 500 {
		return nil
	}
	ctx := resp.Request.Context()
	excerpt := p.readExcerpt(resp)
	rec := gatehouse.RecordFrom(ctx)
	rec.Set("upstream_status", strconv.Itoa(resp.StatusCode))
	p.log.LogAttrs(ctx, slog.LevelWarn, "upstream error response rewritten",
		slog.String("request_id", requestID(ctx)),
		slog.Int("upstream_status", resp.StatusCode),
		slog.String("upstream_content_type", resp.Header.Get("Content-Type")),
		slog.String("upstream_body_excerpt", excerpt))

	d := problem.New(ctx, resp.StatusCode)
	if problem.ExposeDetailsFrom(ctx) {
		d.Detail = fmt.Sprintf("upstream returned %d: %s", resp.StatusCode, excerpt)
	}
	var buf bytes.Buffer
	rw := &bufferWriter{h: http.Header{}, buf: &buf}
	problem.WriteDetails(rw, d)
	h := rw.h
	if ra := resp.Header.Get("Retry-After"); ra != "" && (resp.StatusCode == 503 || resp.StatusCode == 429) {
		h.Set("Retry-After", ra)
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	resp.Header = h
	resp.Trailer = nil
	resp.Body = io.NopCloser(&buf)
	resp.ContentLength = int64(buf.Len())
	resp.TransferEncoding = nil
	resp.Uncompressed = false
	return nil
}

// readExcerpt reads a bounded prefix of resp.Body for the log (gunzipped
// when the upstream compressed it) and closes the body.
func (p *Proxy) readExcerpt(resp *http.Response) string {
	defer resp.Body.Close()
	limit := int64(p.excerpt)
	gz := strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip")
	if gz {
		limit = 64 << 10
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	if gz {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			u, _ := io.ReadAll(io.LimitReader(zr, int64(p.excerpt)))
			b = u
		}
	}
	if len(b) > p.excerpt {
		b = b[:p.excerpt]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// bufferWriter is a minimal ResponseWriter used to render a problem body.
type bufferWriter struct {
	h   http.Header
	buf *bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.h }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(int)             {}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	status := http.StatusBadGateway
	kind := "upstream_unreachable"
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		status, kind = http.StatusRequestEntityTooLarge, "body_too_large"
		gatehouse.RecordFrom(ctx).Block("limits", "body_too_large")
	case errors.Is(ctx.Err(), context.Canceled):
		kind = "client_gone"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		status, kind = http.StatusGatewayTimeout, "upstream_timeout"
	}
	rec := gatehouse.RecordFrom(ctx)
	rec.Set("upstream_error", kind)
	level := slog.LevelWarn
	if kind == "client_gone" || kind == "body_too_large" {
		level = slog.LevelInfo
	}
	p.log.LogAttrs(ctx, level, "upstream request failed",
		slog.String("request_id", requestID(ctx)), slog.String("kind", kind), slog.String("error", err.Error()))
	problem.WriteError(w, r, &problem.Error{Status: status, Err: err})
}
