package jwt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehouse/gatehouse/authn"
)

// MinHMACSecret is the shortest HS* shared secret accepted (256 bits, the
// HS256 hash length); HS384 and HS512 need their own hash length, see
// MinHMACSecretFor.
const MinHMACSecret = 32

// MinHMACSecretFor returns the shortest shared secret accepted for an HS*
// algorithm: its hash output length (RFC 7518 section 3.2: 32, 48 or 64
// bytes). It returns 0 for any other algorithm.
func MinHMACSecretFor(alg string) int {
	switch alg {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 0
}

// maxKeysTried bounds how many keys a token without kid is tried against.
const maxKeysTried = 8

// IssuerOptions configures one trusted token issuer.
type IssuerOptions struct {
	// Issuer must equal the token's "iss" exactly. It also names the issuer
	// in the principal, logs and metrics.
	Issuer string
	// AllowMissingIssuer accepts tokens without an "iss" claim (for APIs that
	// mint their own tokens without one). A token that carries "iss" must
	// still name Issuer. At most one issuer per token source may set it, and
	// it trusts every token its keys verify: insecure unless nothing else
	// signs with those keys.
	AllowMissingIssuer bool
	// Audiences: the token's "aud" (string or array) must name at least one.
	// Empty disables the audience check (config validation refuses that
	// unless it is asked for explicitly).
	Audiences []string
	// AllowMissingAudience accepts tokens without an "aud" claim; a token
	// that carries one must still name one of Audiences (when set).
	AllowMissingAudience bool
	// Algorithms is the explicit allowlist (see SupportedAlgorithms).
	// "none" is never accepted; HS* only with HMACSecret.
	Algorithms []string
	// Keys supplies the public keys (Static, Remote). Required unless every
	// allowed algorithm is HS*.
	Keys KeySource
	// HMACSecret is the shared secret for HS* (at least the algorithm's
	// hash length, see MinHMACSecretFor). HS* tokens are verified against it
	// and nothing else.
	HMACSecret []byte
	// AllowWeakSecret accepts an HMACSecret shorter than the hash length
	// (never an empty one). Anyone who guesses such a secret can mint
	// tokens; WeakSecret reports it so the gateway can warn and report
	// itself degraded.
	AllowWeakSecret bool
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
	// AllowMissingExp accepts tokens without "exp" (insecure; off by default).
	AllowMissingExp bool
	// MaxLifetime, when set, rejects tokens whose exp-iat (or exp-now when
	// iat is absent) exceeds it (plus Leeway), and tokens without exp.
	MaxLifetime time.Duration
	// SubjectClaim names the claim the principal's Subject is read from:
	// a top-level claim name, or else a dotted path into nested objects;
	// default "sub". A string must be non-empty; an integer (JSON number
	// without fraction or exponent, within int64) becomes its decimal
	// string; anything else fails the token (missing_subject,
	// invalid_subject).
	SubjectClaim string
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
	weak   bool
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
			switch n := MinHMACSecretFor(a); {
			case len(o.HMACSecret) == 0:
				return nil, fmt.Errorf("jwt: issuer %q: %s needs a shared secret", o.Issuer, a)
			case len(o.HMACSecret) >= n:
			case o.AllowWeakSecret:
				is.weak = true
			default:
				return nil, fmt.Errorf("jwt: issuer %q: %s needs a shared secret of at least %d bytes (this one has %d)", o.Issuer, a, n, len(o.HMACSecret))
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
	if o.SubjectClaim == "" {
		o.SubjectClaim = "sub"
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

// WeakSecret reports whether the issuer accepts HS* tokens signed with a
// shared secret shorter than the algorithm's hash length (AllowWeakSecret).
func (is *Issuer) WeakSecret() bool { return is.weak }

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
	if v, ok := c["iss"]; ok || !is.o.AllowMissingIssuer {
		// Present (even null or empty) it must name the issuer; absent only
		// with the explicit opt-in.
		if iss, _ := v.(string); iss != is.o.Issuer {
			return nil, authn.Fail(authn.ReasonWrongIssuer, fmt.Errorf("iss %q", iss))
		}
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
	if _, ok := c["aud"]; !ok && is.o.AllowMissingAudience {
		// No aud claim and the issuer accepts that explicitly.
	} else if len(is.o.Audiences) > 0 {
		auds, ok := strs(c["aud"], false)
		if !ok {
			return nil, authn.Fail(authn.ReasonWrongAudience, errors.New("aud is not a string or string array"))
		}
		if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(is.o.Audiences, a) }) {
			return nil, authn.Fail(authn.ReasonWrongAudience, fmt.Errorf("aud %q", auds))
		}
	}
	sub, err := subject(raw, is.o.SubjectClaim)
	if err != nil {
		return nil, err
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

// subject reads the subject claim from the raw claims: name as a top-level
// member, or else as a dotted path into nested objects. The raw JSON text is
// used so that an integer id keeps every digit: 12345678901234567 stays that
// and never becomes a float.
func subject(raw map[string]json.RawMessage, name string) (string, error) {
	v, ok := raw[name]
	if !ok && strings.Contains(name, ".") {
		parts := strings.Split(name, ".")
		cur := raw
		for i, part := range parts {
			m, found := cur[part]
			if !found {
				break
			}
			if i == len(parts)-1 {
				v, ok = m, true
				break
			}
			next, err := decodeObject(m)
			if err != nil {
				break
			}
			cur = next
		}
	}
	if !ok {
		return "", authn.Fail(authn.ReasonMissingSubject, fmt.Errorf("no %q claim", name))
	}
	s, err := subjectValue(v)
	if err != nil {
		return "", authn.Fail(authn.ReasonInvalidSubject, fmt.Errorf("claim %q: %w", name, err))
	}
	if s == "" {
		return "", authn.Fail(authn.ReasonMissingSubject, fmt.Errorf("claim %q is empty", name))
	}
	return s, nil
}

// subjectValue converts one raw claim to a subject: a JSON string as is, a
// JSON integer (no fraction, no exponent, no -0, within int64) as its
// decimal text. Floats, exponents, booleans, null, arrays and objects are
// refused: a subject must compare equal to exactly one id.
func subjectValue(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", errors.New("empty value")
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		s := string(v)
		digits := strings.TrimPrefix(s, "-")
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Errorf("number %.32q is not an integer", s)
		}
		if len(digits) > 1 && digits[0] == '0' || s == "-0" {
			return "", fmt.Errorf("number %.32q is not canonical", s)
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return "", fmt.Errorf("integer %.32q is out of range", s)
		}
		return s, nil
	}
	return "", errors.New("not a string or an integer")
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
