package jwt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehouse/gatehouse/authn"
)

// MinHMACSecret is the shortest HS* shared secret accepted (256 bits).
const MinHMACSecret = 32

// maxKeysTried bounds how many keys a token without kid is tried against.
const maxKeysTried = 8

// IssuerOptions configures one trusted token issuer.
type IssuerOptions struct {
	// Issuer must equal the token's "iss" exactly.
	Issuer string
	// Audiences: the token's "aud" (string or array) must name at least one.
	// Empty disables the audience check (config validation warns).
	Audiences []string
	// Algorithms is the explicit allowlist (see SupportedAlgorithms).
	// "none" is never accepted; HS* only with HMACSecret.
	Algorithms []string
	// Keys supplies the public keys (Static, Remote). Required unless every
	// allowed algorithm is HS*.
	Keys KeySource
	// HMACSecret is the shared secret for HS* (at least MinHMACSecret bytes).
	// HS* tokens are verified against it and nothing else.
	HMACSecret []byte
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
	// AllowMissingExp accepts tokens without "exp" (insecure; off by default).
	AllowMissingExp bool
	// MaxLifetime, when set, rejects tokens whose exp-iat (or exp-now when
	// iat is absent) exceeds it.
	MaxLifetime time.Duration
	// RolesClaim is the claim path of the roles ("realm_access.roles");
	// default "roles".
	RolesClaim string
	// ScopesClaim is the claim path of the scopes; default: "scope"
	// (space-separated string) or else "scp" (array or string).
	ScopesClaim string
	// Source is where the token is taken from; default Bearer.
	Source TokenSource
}

// Issuer verifies tokens of one issuer. It is immutable and safe for
// concurrent use.
type Issuer struct {
	o      IssuerOptions
	algs   map[string]bool
	roles  []string
	scopes []string
}

// NewIssuer checks o and returns an Issuer.
func NewIssuer(o IssuerOptions) (*Issuer, error) {
	if o.Issuer == "" {
		return nil, errors.New("jwt: issuer is required")
	}
	if len(o.Algorithms) == 0 {
		return nil, fmt.Errorf("jwt: issuer %q: algorithms allowlist is required", o.Issuer)
	}
	is := &Issuer{o: o, algs: map[string]bool{}}
	needKeys := false
	for _, a := range o.Algorithms {
		ai, ok := algInfo[a]
		if !ok {
			return nil, fmt.Errorf("jwt: issuer %q: unsupported algorithm %q", o.Issuer, a)
		}
		if ai.fam == famHMAC {
			if len(o.HMACSecret) < MinHMACSecret {
				return nil, fmt.Errorf("jwt: issuer %q: %s needs a shared secret of at least %d bytes", o.Issuer, a, MinHMACSecret)
			}
		} else {
			needKeys = true
		}
		is.algs[a] = true
	}
	if needKeys && o.Keys == nil {
		return nil, fmt.Errorf("jwt: issuer %q: a key source is required", o.Issuer)
	}
	if o.Leeway < 0 || o.MaxLifetime < 0 {
		return nil, fmt.Errorf("jwt: issuer %q: negative duration", o.Issuer)
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "roles"
	}
	is.o = o
	is.roles = strings.Split(o.RolesClaim, ".")
	if o.ScopesClaim != "" {
		is.scopes = strings.Split(o.ScopesClaim, ".")
	}
	return is, nil
}

// Name returns the issuer identifier.
func (is *Issuer) Name() string { return is.o.Issuer }

// generation returns the current key generation (0 without remote keys).
func (is *Issuer) generation(ctx context.Context) uint64 {
	if is.o.Keys == nil {
		return 0
	}
	ks, err := is.o.Keys.Keys(ctx)
	if err != nil || ks == nil {
		return 0
	}
	return ks.Generation
}

// verify checks the signature and claims of a parsed token. now is the
// current time; sum is the token's SHA-256.
func (is *Issuer) verify(ctx context.Context, token string, p *parsed, now time.Time, sum [32]byte) (*authn.Principal, uint64, error) {
	alg := p.header.Alg
	if !is.algs[alg] {
		return nil, 0, authn.Fail(authn.ReasonAlgNotAllowed, fmt.Errorf("alg %q not allowed for issuer %q", alg, is.o.Issuer))
	}
	salg, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		return nil, 0, authn.Fail(authn.ReasonAlgNotAllowed, fmt.Errorf("alg %q unknown", alg))
	}
	var gen uint64
	if algInfo[alg].fam == famHMAC {
		// Only ever the configured secret: never a key from a key set, so an
		// RSA public key can not be turned into an HMAC secret.
		if _, err := jws.Verify([]byte(token), jws.WithKey(salg, is.o.HMACSecret)); err != nil {
			return nil, 0, authn.Fail(authn.ReasonBadSignature, err)
		}
		// The secret never changes, but cache entries are compared with the
		// issuer's key generation, so record it for HS tokens too.
		gen = is.generation(ctx)
	} else {
		ks, err := is.o.Keys.Keys(ctx)
		if err != nil {
			return nil, 0, authn.Fail(authn.ReasonKeysUnavailable, err)
		}
		cands, reason := candidates(ks, p.header.Kid, alg)
		if reason == authn.ReasonUnknownKID {
			// Maybe the IdP rotated: refetch once (the source rate-limits it).
			if ks2, err := is.o.Keys.RefreshUnknownKID(ctx); err == nil && ks2 != nil {
				ks = ks2
				cands, reason = candidates(ks, p.header.Kid, alg)
			}
		}
		if reason != "" {
			return nil, 0, authn.Fail(reason, fmt.Errorf("kid %q alg %s issuer %q", p.header.Kid, alg, is.o.Issuer))
		}
		gen = ks.Generation
		var verr error
		okSig := false
		for _, k := range cands {
			if _, err := jws.Verify([]byte(token), jws.WithKey(salg, k.raw)); err == nil {
				okSig = true
				break
			} else {
				verr = err
			}
		}
		if !okSig {
			return nil, 0, authn.Fail(authn.ReasonBadSignature, verr)
		}
	}
	pr, err := is.claims(p.payload, now, sum)
	if err != nil {
		return nil, 0, err
	}
	return pr, gen, nil
}

// candidates picks the keys a token may be verified with: those with its kid
// (or, without a kid, every key), of the family alg needs.
func candidates(ks *KeySet, kid, alg string) ([]*pubKey, string) {
	var out []*pubKey
	sawKID := false
	for i := range ks.keys {
		k := &ks.keys[i]
		if kid != "" && k.kid != kid {
			continue
		}
		sawKID = true
		if k.fits(alg) {
			out = append(out, k)
			if len(out) == maxKeysTried {
				break
			}
		}
	}
	switch {
	case len(out) > 0:
		return out, ""
	case kid != "" && !sawKID:
		return nil, authn.ReasonUnknownKID
	default:
		return nil, authn.ReasonAlgKeyMismatch
	}
}

// claims validates the registered claims and builds the principal.
func (is *Issuer) claims(payload []byte, now time.Time, sum [32]byte) (*authn.Principal, error) {
	raw, err := decodeObject(payload)
	if err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("claims: %w", err))
	}
	c := make(map[string]any, len(raw))
	for k, v := range raw {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("claim %q: %w", k, err))
		}
		c[k] = x
	}
	if iss, _ := c["iss"].(string); iss != is.o.Issuer {
		return nil, authn.Fail(authn.ReasonWrongIssuer, fmt.Errorf("iss %q", iss))
	}
	nowS := float64(now.UnixNano()) / 1e9
	lee := is.o.Leeway.Seconds()
	exp, hasExp, err := numClaim(c, "exp")
	if err != nil {
		return nil, err
	}
	if !hasExp && !is.o.AllowMissingExp {
		return nil, authn.Fail(authn.ReasonMissingExp, nil)
	}
	if hasExp && nowS > exp+lee {
		return nil, authn.Fail(authn.ReasonExpired, fmt.Errorf("expired %.0fs ago", nowS-exp))
	}
	nbf, hasNbf, err := numClaim(c, "nbf")
	if err != nil {
		return nil, err
	}
	if hasNbf && nbf > nowS+lee {
		return nil, authn.Fail(authn.ReasonNotYetValid, fmt.Errorf("nbf %.0fs ahead", nbf-nowS))
	}
	iat, hasIat, err := numClaim(c, "iat")
	if err != nil {
		return nil, err
	}
	if hasIat && iat > nowS+lee {
		return nil, authn.Fail(authn.ReasonIssuedInFuture, fmt.Errorf("iat %.0fs ahead", iat-nowS))
	}
	if m := is.o.MaxLifetime.Seconds(); m > 0 {
		start := nowS
		if hasIat {
			start = iat
		}
		if !hasExp || exp-start > m+lee {
			return nil, authn.Fail(authn.ReasonLifetimeTooLong, fmt.Errorf("lifetime over %s", is.o.MaxLifetime))
		}
	}
	if len(is.o.Audiences) > 0 {
		auds, ok := strs(c["aud"], false)
		if !ok {
			return nil, authn.Fail(authn.ReasonWrongAudience, errors.New("aud is not a string or string array"))
		}
		if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(is.o.Audiences, a) }) {
			return nil, authn.Fail(authn.ReasonWrongAudience, fmt.Errorf("aud %q", auds))
		}
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return nil, authn.Fail(authn.ReasonMissingSubject, nil)
	}
	p := &authn.Principal{Subject: sub, Issuer: is.o.Issuer, Method: "jwt", Claims: c}
	if jti, _ := c["jti"].(string); jti != "" {
		p.TokenID = jti
	} else {
		p.TokenID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	if hasExp {
		p.ExpiresAt = unixTime(exp)
	}
	if hasIat {
		p.IssuedAt = unixTime(iat)
	}
	p.Roles, _ = strs(path(c, is.roles), true)
	if is.scopes != nil {
		p.Scopes, _ = strs(path(c, is.scopes), true)
	} else if v, ok := c["scope"]; ok {
		p.Scopes, _ = strs(v, true)
	} else {
		p.Scopes, _ = strs(c["scp"], true)
	}
	return p, nil
}

// numClaim reads a NumericDate claim.
func numClaim(c map[string]any, name string) (float64, bool, error) {
	v, ok := c[name]
	if !ok {
		return 0, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, authn.Fail(authn.ReasonMalformed, fmt.Errorf("claim %q is not a number", name))
	}
	return f, true, nil
}

func unixTime(f float64) time.Time {
	const maxS = 1 << 40
	if f > maxS {
		f = maxS
	}
	if f < -maxS {
		f = -maxS
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// path walks a dotted claim path through nested objects.
func path(c map[string]any, parts []string) any {
	var cur any = c
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// strs reads a string (split on spaces when split is true) or an array of
// strings. Non-string array members are ignored.
func strs(v any, split bool) ([]string, bool) {
	switch x := v.(type) {
	case string:
		if split {
			return strings.Fields(x), true
		}
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// tokenSum is the cache key and the fallback token ID.
func tokenSum(token string) [32]byte { return sha256.Sum256([]byte(token)) }
