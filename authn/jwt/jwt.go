// Package jwt authenticates requests carrying JSON Web Tokens (JWS compact
// form) from one or more trusted issuers, with keys from files, a JWKS URL
// or OIDC discovery, a verified-token cache and a revocation check.
//
// Signature verification is done by lestrrat-go/jwx v3 (jws.Verify), always
// with an algorithm this package chose from the issuer's allowlist and a key
// whose type fits it; the token's header never chooses a key source (jku,
// x5u, jwk, x5c are refused) and "none" is never accepted. Everything in
// front of the library (size, segment count, strict header decoding) and the
// claim checks after it are here, small and fuzzed.
//
// Why a cache: an RSA verification costs tens of microseconds and dozens of
// allocations; a SHA-256 of the token and a map lookup cost a fraction of
// that. Cached entries expire with the token and die with a key rotation.
package jwt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/revocation"
)

// Options configures an Authenticator.
type Options struct {
	// Issuers are the trusted issuers; a token is verified by the one whose
	// name equals its "iss" and that reads the source it came from.
	Issuers []*Issuer
	// CacheSize bounds the verified-token cache; 0 disables it.
	CacheSize int
	// CacheTTL caps how long a verified token is cached (it is never cached
	// past its exp); default 5m.
	CacheTTL time.Duration
	// Revocation, when set, is consulted for every request (after the cache).
	Revocation revocation.Store
	// RevocationFailOpen accepts a token whose revocation check failed (the
	// store is down) instead of rejecting it (reason revocation_error, the
	// default). Revoked tokens are then accepted for the length of the
	// outage: an availability-over-security choice for the operator.
	RevocationFailOpen bool
	// OnRevocationError, when set, is called with every failed revocation
	// check (metrics, rate-limited logging), whichever way it is decided.
	OnRevocationError func(error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Authenticator is an authn.Authenticator for JWTs. It is safe for
// concurrent use.
type Authenticator struct {
	o       Options
	sources []TokenSource
	bySrc   [][]int // source index -> issuer indexes
	cache   *cache
	log     *slog.Logger
}

var _ authn.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator over o.Issuers.
func New(o Options) (*Authenticator, error) {
	if len(o.Issuers) == 0 {
		return nil, errors.New("jwt: no issuers")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	a := &Authenticator{o: o, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for i, is := range o.Issuers {
		if is == nil {
			return nil, fmt.Errorf("jwt: issuer %d is nil", i)
		}
		si := -1
		for j, s := range a.sources {
			if s == is.o.Source {
				si = j
			}
		}
		if si < 0 {
			a.sources = append(a.sources, is.o.Source)
			a.bySrc = append(a.bySrc, nil)
			si = len(a.sources) - 1
		}
		for _, j := range a.bySrc[si] {
			if is.o.AllowMissingIssuer && o.Issuers[j].o.AllowMissingIssuer {
				return nil, fmt.Errorf("jwt: issuers %q and %q both accept tokens without iss from the same token source", o.Issuers[j].o.Issuer, is.o.Issuer)
			}
		}
		a.bySrc[si] = append(a.bySrc[si], i)
	}
	if o.CacheSize > 0 {
		a.cache = newCache(o.CacheSize, o.CacheTTL)
	}
	return a, nil
}

// Authenticate implements authn.Authenticator. It returns
// authn.ErrNoCredentials when the request carries no token where an issuer
// looks for one, and a failure with reason multiple_tokens when it carries
// more than one.
func (a *Authenticator) Authenticate(r *http.Request) (*authn.Principal, error) {
	f, n := extract(r, a.sources)
	switch {
	case n == 0:
		return nil, authn.ErrNoCredentials
	case n > 1:
		return nil, authn.Fail(authn.ReasonMultipleTokens, fmt.Errorf("%d tokens in one request", n))
	case f.src < 0:
		// Only in a carrier no issuer reads (e.g. ?access_token= while the
		// issuers read the Authorization header): not ours.
		return nil, authn.ErrNoCredentials
	}
	return a.verify(r.Context(), f.token, f.src)
}

// Verify verifies a token as if it came from the first configured source
// (the cache and the revocation check included).
func (a *Authenticator) Verify(ctx context.Context, token string) (*authn.Principal, error) {
	return a.verify(ctx, token, 0)
}

func (a *Authenticator) verify(ctx context.Context, token string, src int) (*authn.Principal, error) {
	if token == "" {
		return nil, authn.Fail(authn.ReasonMalformed, errors.New("empty token"))
	}
	if len(token) > MaxTokenSize {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("token is %d bytes, over %d", len(token), MaxTokenSize))
	}
	now := a.o.Now()
	sum := tokenSum(token)
	var p *authn.Principal
	if a.cache != nil {
		if e, ok := a.cache.get(sum, now); ok && a.readsSource(e.issuer, src) {
			if a.o.Issuers[e.issuer].generation(ctx) == e.gen {
				p = e.p
			} else {
				a.cache.purge() // the issuer's keys changed: nothing cached stands
			}
		}
	}
	if p == nil {
		parsed, err := parse(token)
		if err != nil {
			return nil, err
		}
		iss, hasIss := peekIssuer(parsed.payload)
		idx := -1
		for _, i := range a.bySrc[src] {
			io := &a.o.Issuers[i].o
			if hasIss && io.Issuer == iss || !hasIss && io.AllowMissingIssuer {
				idx = i
				break
			}
		}
		if idx < 0 {
			if !hasIss {
				return nil, authn.Fail(authn.ReasonWrongIssuer, errors.New("no iss claim and no issuer for this token source accepts that"))
			}
			return nil, authn.Fail(authn.ReasonWrongIssuer, fmt.Errorf("iss %q is not a trusted issuer for this token source", iss))
		}
		var gen uint64
		p, gen, err = a.o.Issuers[idx].verify(ctx, token, parsed, now, sum)
		if err != nil {
			return nil, err
		}
		if a.cache != nil {
			a.cache.put(sum, p, idx, gen, now)
		}
	}
	if a.o.Revocation != nil {
		revoked, err := a.o.Revocation.Check(ctx, p.TokenID, p.Subject, p.IssuedAt)
		if err != nil {
			if a.o.OnRevocationError != nil {
				a.o.OnRevocationError(err)
			}
			if !a.o.RevocationFailOpen {
				return nil, authn.Fail(authn.ReasonRevocationError, err)
			}
			revoked = false
		}
		if revoked {
			return nil, authn.Fail(authn.ReasonRevoked, fmt.Errorf("token %q of %q", p.TokenID, p.Subject))
		}
	}
	return p, nil
}

func (a *Authenticator) readsSource(issuer, src int) bool {
	for _, i := range a.bySrc[src] {
		if i == issuer {
			return true
		}
	}
	return false
}

// CacheLen returns the number of cached verified tokens.
func (a *Authenticator) CacheLen() int {
	if a.cache == nil {
		return 0
	}
	return a.cache.len()
}
