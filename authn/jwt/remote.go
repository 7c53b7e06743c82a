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
	if s := r.set.Load(); s != nil {
		return s, nil
	}
	return r.RefreshUnknownKID(ctx)
}

// RefreshUnknownKID implements KeySource: it refetches unless a fetch was
// tried less than UnknownKIDCooldown ago, and returns the current set.
func (r *Remote) RefreshUnknownKID(ctx context.Context) (*KeySet, error) {
	r.fetchMu.Lock()
	if r.lastTry.IsZero() || r.o.Now().Sub(r.lastTry) >= r.o.UnknownKIDCooldown {
		if err := r.refreshLocked(ctx); err != nil {
			r.log.Warn("jwks refetch failed", "url", r.jwksURL, "error", err)
		}
	}
	r.fetchMu.Unlock()
	if s := r.set.Load(); s != nil {
		return s, nil
	}
	return nil, ErrKeysUnavailable
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
	r.lastTry = r.o.Now()
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
		close(r.stop)
		r.startOnce.Do(func() {}) // waits for a concurrent Start; prevents a later one
		if r.started.Load() {
			<-r.done
		}
	})
	return nil
}
