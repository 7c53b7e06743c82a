package jwt

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ErrKeysUnavailable means a remote key set has never been fetched
// successfully, so no token of that issuer can be verified yet.
var ErrKeysUnavailable = errors.New("jwt: key set not available")

// ErrKeysStale means the last good key set is older than MaxStale: the IdP
// has not answered for that long, and its keys are no longer trusted (a key
// it withdrew meanwhile must not stay valid forever).
var ErrKeysStale = errors.New("jwt: key set is older than its maximum staleness")

// ErrBadJWKSURL means a JWKS URL (configured, or the jwks_uri of an OIDC
// discovery document) is not one gatehouse fetches keys from: not an
// absolute http(s) URL with a host, carrying credentials or a fragment, or
// a plain-http jwks_uri discovered from an https issuer (a downgrade).
var ErrBadJWKSURL = errors.New("jwt: jwks url refused")

// CheckJWKSURL checks a URL keys are fetched from, the same way for a
// configured URL (issuerScheme "") and a discovered jwks_uri (issuerScheme
// is the discovery issuer's scheme). Plain http is refused when the issuer
// is https; otherwise it is the operator's choice (config validation warns
// unless the host is loopback). The host may differ from the issuer's:
// several IdPs serve their JWKS from another host.
func CheckJWKSURL(raw, issuerScheme string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %q is not a URL", ErrBadJWKSURL, raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrBadJWKSURL, raw)
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return fmt.Errorf("%w: %q has no host", ErrBadJWKSURL, raw)
	case u.User != nil:
		return fmt.Errorf("%w: %q carries credentials", ErrBadJWKSURL, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: %q has a fragment", ErrBadJWKSURL, raw)
	case u.Scheme == "http" && issuerScheme == "https":
		return fmt.Errorf("%w: %q is plain http under an https issuer (keys fetched over it can be replaced in transit)", ErrBadJWKSURL, raw)
	}
	return nil
}

// RemoteOptions configures a Remote key source.
type RemoteOptions struct {
	// URL is the JWKS URL. If empty, DiscoveryIssuer must be set and the URL
	// is read from its OIDC discovery document.
	URL string
	// DiscoveryIssuer is the issuer whose
	// /.well-known/openid-configuration names the jwks_uri. The document's
	// "issuer" must equal it exactly.
	DiscoveryIssuer string
	// Client makes the requests; default: a client that follows no redirects.
	Client *http.Client
	// Timeout bounds each fetch (discovery and JWKS); default 5s.
	Timeout time.Duration
	// MinRefresh and MaxRefresh clamp the refresh interval taken from the
	// response's Cache-Control max-age (MaxRefresh when absent); defaults
	// 1m and 1h. After a failed fetch the next try is MinRefresh later.
	MinRefresh, MaxRefresh time.Duration
	// UnknownKIDCooldown is the least time between two fetches triggered by
	// an unknown kid, so a flood of made-up kids cannot hammer the IdP;
	// default 10s.
	UnknownKIDCooldown time.Duration
	// MaxBody bounds a JWKS or discovery response; default 1 MiB.
	MaxBody int64
	// MaxStale is how long the last good key set keeps serving after the
	// last successful fetch while the IdP fails; after it, Keys returns
	// ErrKeysStale (tokens fail closed) until a fetch succeeds again.
	// 0 keeps the last good set forever.
	MaxStale time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Remote is a KeySource fetched over HTTP(S) from a JWKS URL (or via OIDC
// discovery). It keeps serving the last good key set when the IdP fails, and
// its background refresher (Start) stops on Close. Safe for concurrent use.
type Remote struct {
	o       RemoteOptions
	log     *slog.Logger
	set     atomic.Pointer[KeySet]
	fetchMu sync.Mutex // one fetch at a time
	// guarded by fetchMu:
	jwksURL   string
	lastTry   time.Time
	lastHash  [32]byte
	gen       uint64
	nextDelay time.Duration

	// lastOKNano is when a fetch last succeeded (UnixNano; 0: never),
	// lastFailed whether the latest fetch failed.
	lastOKNano atomic.Int64
	lastFailed atomic.Bool
	// lastTryNano mirrors lastTry (UnixNano): when any fetch last started.
	lastTryNano atomic.Int64
	// lastUnknownNano is when the last fetch for an unknown kid started: the
	// cooldown counts from it alone. A scheduled refresh (or the fetch at
	// start) does not start it, or a key published just after one would be
	// refused for the whole cooldown.
	lastUnknownNano atomic.Int64
	flightMu        sync.Mutex
	flight          chan struct{} // the running unknown-kid fetch, nil when none
	flights         sync.WaitGroup

	fetches   atomic.Int64
	stop      chan struct{}
	done      chan struct{}
	started   atomic.Bool
	startOnce sync.Once
	closeOnce sync.Once
}

var _ KeySource = (*Remote)(nil)

// NewRemote returns a Remote; it does not touch the network until Refresh,
// Start or the first Keys call.
func NewRemote(o RemoteOptions) (*Remote, error) {
	if o.URL == "" && o.DiscoveryIssuer == "" {
		return nil, errors.New("jwt: remote keys need a url or a discovery issuer")
	}
	if o.URL != "" {
		if err := CheckJWKSURL(o.URL, ""); err != nil {
			return nil, err
		}
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = time.Minute
	}
	if o.MaxRefresh <= 0 {
		o.MaxRefresh = time.Hour
	}
	if o.MaxRefresh < o.MinRefresh {
		o.MaxRefresh = o.MinRefresh
	}
	if o.UnknownKIDCooldown <= 0 {
		o.UnknownKIDCooldown = 10 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Remote{o: o, log: log, jwksURL: o.URL, nextDelay: o.MinRefresh,
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Keys implements KeySource. Before the first successful fetch it tries one
// (rate-limited by the unknown-kid cooldown) and otherwise returns
// ErrKeysUnavailable.
func (r *Remote) Keys(ctx context.Context) (*KeySet, error) {
	if s, err := r.current(); err == nil {
		return s, nil
	}
	// Never fetched, or stale: try once more (cooldown, single flight).
	return r.RefreshUnknownKID(ctx)
}

// current returns the key set if there is one and it is not stale.
func (r *Remote) current() (*KeySet, error) {
	s := r.set.Load()
	if s == nil {
		return nil, ErrKeysUnavailable
	}
	if r.o.MaxStale > 0 {
		if age := r.o.Now().Sub(time.Unix(0, r.lastOKNano.Load())); age > r.o.MaxStale {
			return nil, fmt.Errorf("%w: last good fetch %s ago, limit %s", ErrKeysStale, age.Round(time.Second), r.o.MaxStale)
		}
	}
	return s, nil
}

// Ready reports whether the source can verify tokens now: nil, or
// ErrKeysUnavailable (never fetched) or ErrKeysStale (wrapped). It makes no
// request.
func (r *Remote) Ready() error {
	_, err := r.current()
	return err
}

// Degraded reports whether the latest fetch failed (the last good key set
// is serving, up to MaxStale).
func (r *Remote) Degraded() bool { return r.lastFailed.Load() }

// RefreshUnknownKID implements KeySource: it refetches unless a fetch was
// tried less than UnknownKIDCooldown ago, and returns the current set.
//
// The fetch runs on a background context (stopped by Close), never on the
// caller's: a client that disconnects stops waiting but neither cancels
// the fetch nor leaves the cooldown started by a fetch that never
// completed. Concurrent callers share one fetch (single flight).
func (r *Remote) RefreshUnknownKID(ctx context.Context) (*KeySet, error) {
	r.flightMu.Lock()
	var f <-chan struct{} = r.flight // a fetch in flight is joined, cooldown or not
	r.flightMu.Unlock()
	if f == nil && r.o.Now().Sub(time.Unix(0, r.lastUnknownNano.Load())) >= r.o.UnknownKIDCooldown {
		f = r.startFlight()
	}
	if f != nil {
		select {
		case <-f:
		case <-ctx.Done():
		}
	}
	return r.current()
}

// startFlight starts a background fetch unless one is running, and returns
// a channel closed when that fetch is over.
func (r *Remote) startFlight() <-chan struct{} {
	r.flightMu.Lock()
	defer r.flightMu.Unlock()
	if r.flight != nil {
		return r.flight
	}
	done := make(chan struct{})
	select {
	case <-r.stop: // closed: no new work
		close(done)
		return done
	default:
	}
	r.flight = done
	r.flights.Add(1)
	requested := r.o.Now().UnixNano()
	go func() {
		defer r.flights.Done()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		r.fetchMu.Lock()
		// Re-check under the fetch lock: a fetch that started after this
		// flight was asked for (the background refresher, the previous
		// flight) already saw what the unknown kid needs; one that started
		// before may not have.
		if r.lastTryNano.Load() < requested || (r.lastTryNano.Load() == requested && r.lastUnknownNano.Load() < requested) {
			r.lastUnknownNano.Store(r.o.Now().UnixNano())
			if err := r.refreshLocked(ctx); err != nil {
				r.log.Warn("jwks refetch failed", "url", r.jwksURL, "error", err)
			}
		}
		r.fetchMu.Unlock()
		cancel()
		r.flightMu.Lock()
		r.flight = nil
		r.flightMu.Unlock()
		close(done)
	}()
	return done
}

// Refresh fetches the key set now. On failure the previous set stays in use.
func (r *Remote) Refresh(ctx context.Context) error {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	return r.refreshLocked(ctx)
}

// Fetches returns how many fetch attempts were made (for tests and metrics).
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// NextRefresh returns the delay before the next background refresh, as
// decided by the last fetch (Cache-Control max-age clamped to
// [MinRefresh, MaxRefresh], or MinRefresh after a failure).
func (r *Remote) NextRefresh() time.Duration {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	return r.nextDelay
}

func (r *Remote) refreshLocked(ctx context.Context) error {
	start := r.o.Now()
	err := r.fetchLocked(ctx, start)
	if err == nil {
		r.lastOKNano.Store(start.UnixNano())
	}
	r.lastFailed.Store(err != nil)
	return err
}

func (r *Remote) fetchLocked(ctx context.Context, now time.Time) error {
	r.lastTry = now
	r.lastTryNano.Store(r.lastTry.UnixNano())
	r.fetches.Add(1)
	r.nextDelay = r.o.MinRefresh
	if r.jwksURL == "" {
		u, err := r.discover(ctx)
		if err != nil {
			return err
		}
		r.jwksURL = u
	}
	body, hdr, err := r.get(ctx, r.jwksURL)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	h := sha256.Sum256(body)
	if h == r.lastHash && r.set.Load() != nil {
		r.nextDelay = r.delayFrom(hdr)
		return nil
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return fmt.Errorf("parse jwks: %w", err)
	}
	ks, warns, err := NewKeySet(set)
	for _, w := range warns {
		r.log.Warn("jwks key skipped", "url", r.jwksURL, "detail", w)
	}
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	r.gen++
	ks.Generation = r.gen
	r.lastHash = h
	r.set.Store(ks)
	r.nextDelay = r.delayFrom(hdr)
	r.log.Info("jwks loaded", "url", r.jwksURL, "keys", ks.Len(), "generation", ks.Generation)
	return nil
}

func (r *Remote) delayFrom(h http.Header) time.Duration {
	d := r.o.MaxRefresh
	if ma, ok := maxAge(h.Get("Cache-Control")); ok {
		d = ma
	}
	return min(max(d, r.o.MinRefresh), r.o.MaxRefresh)
}

// maxAge extracts max-age from a Cache-Control value; no-store and no-cache
// count as 0 (the caller clamps to MinRefresh).
func maxAge(cc string) (time.Duration, bool) {
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(k) {
		case "no-store", "no-cache":
			return 0, true
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0, false
			}
			if n > 1<<31 {
				n = 1 << 31
			}
			return time.Duration(n) * time.Second, true
		}
	}
	return 0, false
}

func (r *Remote) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(r.o.DiscoveryIssuer, "/") + "/.well-known/openid-configuration"
	body, _, err := r.get(ctx, u)
	if err != nil {
		return "", fmt.Errorf("oidc discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("oidc discovery: decode: %w", err)
	}
	if doc.Issuer != r.o.DiscoveryIssuer {
		return "", fmt.Errorf("oidc discovery: document issuer %q does not match %q", doc.Issuer, r.o.DiscoveryIssuer)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("oidc discovery: no jwks_uri")
	}
	iu, err := url.Parse(r.o.DiscoveryIssuer)
	if err != nil {
		return "", fmt.Errorf("oidc discovery: issuer: %w", err)
	}
	if err := CheckJWKSURL(doc.JWKSURI, iu.Scheme); err != nil {
		return "", fmt.Errorf("oidc discovery: %w", err)
	}
	return doc.JWKSURI, nil
}

func (r *Remote) get(ctx context.Context, url string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.o.MaxBody+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > r.o.MaxBody {
		return nil, nil, fmt.Errorf("response over %d bytes", r.o.MaxBody)
	}
	return body, resp.Header, nil
}

// Start fetches the key set once (failure is logged, not fatal: requests
// retry it) and then refreshes it in the background until Close.
func (r *Remote) Start(ctx context.Context) {
	r.startOnce.Do(func() {
		r.started.Store(true)
		if err := r.Refresh(ctx); err != nil {
			r.log.Error("jwks initial fetch failed; will retry", "error", err)
		}
		go r.loop()
	})
}

func (r *Remote) loop() {
	defer close(r.done)
	for {
		t := time.NewTimer(r.NextRefresh())
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := r.Refresh(ctx); err != nil {
			r.log.Warn("jwks refresh failed; serving the last good key set", "error", err)
		}
		cancel()
	}
}

// Close stops the background refresher and waits for it.
func (r *Remote) Close() error {
	r.closeOnce.Do(func() {
		r.flightMu.Lock() // no flight starts after stop is closed
		close(r.stop)
		r.flightMu.Unlock()
		r.startOnce.Do(func() {}) // waits for a concurrent Start; prevents a later one
		if r.started.Load() {
			<-r.done
		}
		r.flights.Wait()
	})
	return nil
}
