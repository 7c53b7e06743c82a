package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// MinRSABits is the smallest RSA modulus accepted in a key set.
const MinRSABits = 2048

// KeySet is an immutable set of public verification keys, ready for use.
// Build it with NewKeySet or LoadKeyFiles. Generation identifies the version
// of an issuer's keys: verified-token cache entries from an older generation
// are discarded.
type KeySet struct {
	Generation uint64
	keys       []pubKey
}

// Len returns the number of usable keys.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

type pubKey struct {
	kid string
	alg string // from the JWK "alg", "" when absent
	fam family
	crv string // EC curve name / "Ed25519"
	raw any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
}

type family int

const (
	famNone family = iota
	famRSA
	famEC
	famEd
	famHMAC
)

// algInfo maps each supported algorithm to the key family (and EC curve) it
// needs. An alg/key pair outside this table is never tried, which is what
// defeats RS/HS confusion: an HS* token is only ever checked against the
// issuer's configured shared secret.
var algInfo = map[string]struct {
	fam family
	crv string
}{
	"RS256": {famRSA, ""}, "RS384": {famRSA, ""}, "RS512": {famRSA, ""},
	"PS256": {famRSA, ""}, "PS384": {famRSA, ""}, "PS512": {famRSA, ""},
	"ES256": {famEC, "P-256"}, "ES384": {famEC, "P-384"}, "ES512": {famEC, "P-521"},
	"EdDSA": {famEd, "Ed25519"},
	"HS256": {famHMAC, ""}, "HS384": {famHMAC, ""}, "HS512": {famHMAC, ""},
}

// SupportedAlgorithms lists the algorithm names an issuer may allow.
func SupportedAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}
}

// fits reports whether key k may verify a token signed with alg.
func (k *pubKey) fits(alg string) bool {
	ai, ok := algInfo[alg]
	if !ok || ai.fam == famHMAC || ai.fam != k.fam {
		return false
	}
	if ai.crv != "" && ai.crv != k.crv {
		return false
	}
	return k.alg == "" || k.alg == alg
}

// NewKeySet converts a JWK set into verification keys. Private keys are
// reduced to their public half; symmetric keys, keys whose "use" is not
// "sig", and RSA keys under MinRSABits are skipped (and reported in the
// returned warnings). It is an error if no usable key remains.
func NewKeySet(set jwk.Set) (*KeySet, []string, error) {
	ks := &KeySet{}
	var warns []string
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		kid, _ := k.KeyID()
		if u, ok := k.KeyUsage(); ok && u != "" && u != "sig" {
			warns = append(warns, fmt.Sprintf("key %q: use %q is not sig, skipped", kid, u))
			continue
		}
		var pk pubKey
		pk.kid = kid
		if a, ok := k.Algorithm(); ok {
			pk.alg = a.String()
		}
		raw, err := jwk.PublicRawKeyOf(k)
		if err != nil {
			warns = append(warns, fmt.Sprintf("key %q: %v, skipped", kid, err))
			continue
		}
		switch pub := raw.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < MinRSABits {
				warns = append(warns, fmt.Sprintf("key %q: RSA %d bits is under %d, skipped", kid, pub.N.BitLen(), MinRSABits))
				continue
			}
			pk.fam, pk.raw = famRSA, pub
		case *ecdsa.PublicKey:
			pk.fam, pk.raw = famEC, pub
			switch pub.Curve {
			case elliptic.P256():
				pk.crv = "P-256"
			case elliptic.P384():
				pk.crv = "P-384"
			case elliptic.P521():
				pk.crv = "P-521"
			default:
				warns = append(warns, fmt.Sprintf("key %q: unsupported curve, skipped", kid))
				continue
			}
		case ed25519.PublicKey:
			pk.fam, pk.crv, pk.raw = famEd, "Ed25519", pub
		default:
			warns = append(warns, fmt.Sprintf("key %q: key type %T is not used for verification, skipped", kid, raw))
			continue
		}
		if pk.alg != "" {
			if _, ok := algInfo[pk.alg]; !ok || !pk.fits(pk.alg) {
				warns = append(warns, fmt.Sprintf("key %q: alg %q does not fit the key, skipped", kid, pk.alg))
				continue
			}
		}
		ks.keys = append(ks.keys, pk)
	}
	if len(ks.keys) == 0 {
		return nil, warns, errors.New("no usable verification key")
	}
	return ks, warns, nil
}

// LoadKeyFiles reads public (or private: only the public half is kept) keys
// from PEM files or JWK / JWK set JSON files into one KeySet. A key without a
// "kid" gets its RFC 7638 thumbprint as kid, the same kid `gatehouse token`
// puts in the tokens it mints.
func LoadKeyFiles(paths ...string) (*KeySet, []string, error) {
	all := jwk.NewSet()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read key file: %w", err)
		}
		set, err := ParseKeys(b)
		if err != nil {
			return nil, nil, fmt.Errorf("key file %q: %w", p, err)
		}
		for i := range set.Len() {
			k, _ := set.Key(i)
			if err := all.AddKey(k); err != nil {
				return nil, nil, fmt.Errorf("key file %q: %w", p, err)
			}
		}
	}
	return NewKeySet(all)
}

// ParseKeys parses PEM, a JWK or a JWK set and gives every key without a kid
// its thumbprint kid (see KeyID).
func ParseKeys(b []byte) (jwk.Set, error) {
	var set jwk.Set
	var err error
	if strings.Contains(string(b), "-----BEGIN") {
		set, err = jwk.Parse(b, jwk.WithPEM(true))
	} else {
		set, err = jwk.Parse(b)
	}
	if err != nil {
		return nil, fmt.Errorf("parse keys: %w", err)
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if _, ok := k.KeyID(); !ok {
			kid, err := KeyID(k)
			if err != nil {
				return nil, err
			}
			if err := k.Set(jwk.KeyIDKey, kid); err != nil {
				return nil, fmt.Errorf("set kid: %w", err)
			}
		}
	}
	return set, nil
}

// KeyID returns the RFC 7638 thumbprint (SHA-256, base64url) of k's public
// half: the default kid for keys that have none.
func KeyID(k jwk.Key) (string, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	tp, err := pub.Thumbprint(cryptoSHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return strictB64.EncodeToString(tp), nil
}

// KeySource supplies the verification keys of one issuer. Implementations
// are safe for concurrent use.
type KeySource interface {
	// Keys returns the current key set (never modified once returned).
	Keys(ctx context.Context) (*KeySet, error)
	// RefreshUnknownKID is called when a token names a kid the current set
	// lacks; a remote source refetches (at most once per cooldown) and
	// returns the possibly newer set.
	RefreshUnknownKID(ctx context.Context) (*KeySet, error)
}

// Static is a KeySource over a fixed KeySet (keys from files).
type Static struct{ Set *KeySet }

// Keys implements KeySource.
func (s Static) Keys(context.Context) (*KeySet, error) { return s.Set, nil }

// RefreshUnknownKID implements KeySource; static keys never change.
func (s Static) RefreshUnknownKID(context.Context) (*KeySet, error) { return s.Set, nil }

const cryptoSHA256 = crypto.SHA256
