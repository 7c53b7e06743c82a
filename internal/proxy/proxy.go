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
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/openapi"
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
	// OwnedHeaders are request headers the gateway itself sets (identity
	// headers; X-Request-Id and every X-Gatehouse- header are always
	// included). Rewrite copies them from the inbound request after the
	// hop-by-hop removal, so a client's Connection header cannot delete them.
	OwnedHeaders []string
	// AllowTrailers lists the request trailer fields forwarded upstream;
	// every other trailer is dropped (and reported to OnTrailersDropped).
	AllowTrailers []string
	// OnTrailersDropped, when set, is called with the number of trailer
	// fields a request declared and the proxy dropped.
	OnTrailersDropped func(ctx context.Context, n int)
	// PublicHost, when set, is the X-Forwarded-Host sent upstream.
	PublicHost string
	// AllowedHosts lists the Host values (any case, port included when the
	// client sends one) forwarded as X-Forwarded-Host when PublicHost is
	// empty; any other Host sends no X-Forwarded-Host.
	AllowedHosts []string
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

	owned        []string
	trailers     map[string]bool // canonical names
	onTrailers   func(context.Context, int)
	publicHost   string
	allowedHosts map[string]bool // lower case
	fingerprint  []string        // secheaders.Fingerprint, canonical (Del would canonicalise, allocating, per response)
}

type targetKey struct{}

// WithTargetPath returns ctx carrying the canonical, already-encoded path
// to forward (openapi.Match.RawPath).
func WithTargetPath(ctx context.Context, rawPath string) context.Context {
	return context.WithValue(ctx, targetKey{}, rawPath)
}

// TargetPath returns the path set by WithTargetPath or, without one, the
// RawPath of the request's matched route (gatehouse.Route, set by the
// gateway's route stage: no context value of its own per request).
func TargetPath(ctx context.Context) (string, bool) {
	if p, ok := ctx.Value(targetKey{}).(string); ok {
		return p, true
	}
	if rt := gatehouse.RouteFrom(ctx); rt != nil && rt.RawPath != "" {
		return rt.RawPath, true
	}
	return "", false
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
	p := &Proxy{base: o.Upstream, trusted: o.Trusted, log: log.With("component", "proxy"), excerpt: o.Excerpt,
		onTrailers: o.OnTrailersDropped, publicHost: o.PublicHost}
	p.owned = append(p.owned, "X-Request-Id")
	for _, k := range secheaders.Fingerprint {
		p.fingerprint = append(p.fingerprint, http.CanonicalHeaderKey(k))
	}
	for _, h := range o.OwnedHeaders {
		if h != "" {
			p.owned = append(p.owned, http.CanonicalHeaderKey(h))
		}
	}
	for _, t := range o.AllowTrailers {
		if err := CheckTrailerName(t); err != nil {
			return nil, err
		}
		if p.trailers == nil {
			p.trailers = map[string]bool{}
		}
		p.trailers[http.CanonicalHeaderKey(t)] = true
	}
	for _, h := range o.AllowedHosts {
		if p.allowedHosts == nil {
			p.allowedHosts = map[string]bool{}
		}
		p.allowedHosts[strings.ToLower(h)] = true
	}
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
			DisableCompression:    true, // forward the client's Accept-Encoding as sent, add none, decompress nothing
			ForceAttemptHTTP2:     true,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		}
		rt = p.transport
	}
	// FlushInterval 0: ReverseProxy flushes at once only for
	// text/event-stream and for responses of unknown length (streams); a
	// response with a Content-Length leaves through the server's buffered
	// writer (headers and a small body in one write), not one write each.
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      rt,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		FlushInterval:  0, // streams only: see the comment above
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
	// What pr.SetXForwarded does (X-Forwarded-For: the peer appended to a
	// kept value; X-Forwarded-Proto), with the values of these headers and
	// X-Real-Ip in one backing array (capacity-capped per header, so an
	// append to one copies instead of writing into its neighbour) and no
	// X-Forwarded-Host from the client's Host: that one is decided below.
	vals := make([]string, 0, 3)
	put := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		out.Header[k] = vals[n-1 : n : n]
	}
	if peer, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
			peer = strings.Join(prior, ", ") + ", " + peer
		}
		put("X-Forwarded-For", peer)
	} else {
		delete(out.Header, "X-Forwarded-For")
	}
	if in.TLS == nil {
		put("X-Forwarded-Proto", "http")
	} else {
		put("X-Forwarded-Proto", "https")
	}
	host := in.Host
	if trusted {
		if v := in.Header.Get("X-Forwarded-Proto"); v != "" {
			out.Header.Set("X-Forwarded-Proto", v)
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
	}
	// X-Forwarded-Host is the configured public host, or the client's Host
	// only when it is on the allowlist: upstreams build absolute URLs
	// (password-reset links, redirects) from it.
	out.Header.Del("X-Forwarded-Host")
	switch {
	case p.publicHost != "":
		out.Header.Set("X-Forwarded-Host", p.publicHost)
	case host != "" && len(p.allowedHosts) > 0 && p.allowedHosts[strings.ToLower(host)]:
		out.Header.Set("X-Forwarded-Host", host)
	}
	if ip := p.trusted.ClientIP(in); ip.IsValid() {
		put("X-Real-Ip", ip.String())
	}
	// Identity headers are stripped from the client request before authn
	// runs; this catches any '_' spelling a later stage may have let in.
	for k := range out.Header {
		if strings.Contains(k, "_") && strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), httpx.IdentityHeaderPrefix) {
			delete(out.Header, k)
		}
	}
	// Gateway-owned headers are set again after ReverseProxy's hop-by-hop
	// removal: a "Connection: X-Gatehouse-Subject" from the client must not
	// delete what the gateway verified (the route stage also refuses such
	// Connection tokens).
	for k, vs := range in.Header {
		if hasPrefixFold(k, httpx.IdentityHeaderPrefix) {
			out.Header[k] = append([]string(nil), vs...)
		}
	}
	for _, k := range p.owned {
		if vs, ok := in.Header[k]; ok {
			out.Header[k] = append([]string(nil), vs...)
		}
	}
	p.filterTrailers(in, out)
}

// filterTrailers drops every request trailer not in AllowTrailers. An
// upstream that merges trailers into the headers would otherwise act on
// fields (identity, override, forwarding headers) sent after the body, past
// every check. Allowed trailers are copied when the body reaches EOF, since
// the server fills in their values only then.
func (p *Proxy) filterTrailers(in, out *http.Request) {
	if len(in.Trailer) == 0 {
		out.Trailer = nil
		return
	}
	dropped := 0
	var keep http.Header
	for k := range in.Trailer {
		if p.trailers[http.CanonicalHeaderKey(k)] {
			if keep == nil {
				keep = http.Header{}
			}
			keep[http.CanonicalHeaderKey(k)] = nil
			continue
		}
		dropped++
	}
	out.Trailer = keep
	if dropped > 0 {
		gatehouse.RecordFrom(in.Context()).Set("dropped_trailers", strconv.Itoa(dropped))
		if p.onTrailers != nil {
			p.onTrailers(in.Context(), dropped)
		}
	}
	if keep != nil && out.Body != nil {
		out.Body = &trailerBody{ReadCloser: out.Body, in: in.Trailer, out: keep}
	}
}

// trailerBody copies the allowed trailer values when the body ends.
type trailerBody struct {
	io.ReadCloser
	in, out http.Header
	done    bool
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		for k := range b.out {
			if vs := b.in.Values(k); len(vs) > 0 {
				b.out[k] = append([]string(nil), vs...)
			} else {
				delete(b.out, k)
			}
		}
	}
	return n, err
}

// ErrTrailerName: a trailer that may never be forwarded (see CheckTrailerName).
var ErrTrailerName = errors.New("trailer field may not be forwarded")

// CheckTrailerName refuses trailer names that must never reach the upstream
// after the body: identity headers (X-Gatehouse-*), method/URL override
// headers, forwarding headers, and fields that frame, route, authenticate
// or describe the message (RFC 9110 §6.5.1).
func CheckTrailerName(name string) error {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	switch {
	case n == "":
		return fmt.Errorf("%w: empty name", ErrTrailerName)
	case strings.HasPrefix(n, httpx.IdentityHeaderPrefix):
		return fmt.Errorf("%w: %q is an identity header", ErrTrailerName, name)
	case httpx.IsForwardingHeader(n):
		return fmt.Errorf("%w: %q is a forwarding header", ErrTrailerName, name)
	case openapi.IsOverrideHeader(n):
		return fmt.Errorf("%w: %q is a method or URL override header", ErrTrailerName, name)
	}
	switch n {
	case "host", "authorization", "proxy-authorization", "cookie", "set-cookie", "content-length",
		"content-type", "content-encoding", "content-range", "transfer-encoding", "te", "trailer",
		"connection", "keep-alive", "upgrade", "expect", "x-request-id", "x-api-key", "max-forwards",
		"cache-control", "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since":
		return fmt.Errorf("%w: %q frames, routes, authenticates or describes the message", ErrTrailerName, name)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: %q is not a header name", ErrTrailerName, name)
		}
	}
	return nil
}

func (p *Proxy) isTrustedPeer(r *http.Request) bool {
	return p.trusted.Trusts(httpx.PeerAddr(r))
}

func requestID(ctx context.Context) string { return gatehouse.RecordFrom(ctx).Snapshot().RequestID }

// hasPrefixFold is strings.HasPrefix(strings.ToLower(s), prefix) for an
// ASCII lower-case prefix, without allocating.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	for _, k := range p.fingerprint {
		delete(resp.Header, k)
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
		status, kind = StatusClientClosedRequest, "client_gone"
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
	if status == StatusClientClosedRequest {
		// Nobody reads an answer: the status is for the access log and the
		// metrics, where the request counts as cut off by the client
		// (nginx's 499), not as an upstream failure.
		w.WriteHeader(status)
		return
	}
	problem.WriteError(w, r, &problem.Error{Status: status, Err: err})
}

// StatusClientClosedRequest is httpx.StatusClientClosedRequest (499): the
// status recorded for a request the client abandoned before the upstream
// answered.
const StatusClientClosedRequest = httpx.StatusClientClosedRequest
