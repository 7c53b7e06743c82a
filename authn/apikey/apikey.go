// Package apikey authenticates requests by a static API key sent in a header
// (default X-API-Key) or, discouraged, a query parameter.
//
// Keys are never stored: the keys file holds only "sha256:<hex>" digests with
// each key's subject, roles, scopes and optional expiry. A presented key is
// hashed and the digest looked up. SHA-256 without salt or stretching is
// right here (unlike for passwords) because keys are 256-bit random values:
// there is nothing to brute-force or precompute.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/authn"
)

// Prefix starts every key Generate makes, so that leaked keys are easy to
// spot (secret scanners) and to tell apart from JWTs.
const Prefix = "ghk_"

// MaxKeyLen bounds a presented key; longer values are rejected unhashed.
const MaxKeyLen = 512

// ErrNotFound is returned by a Store that holds no key with the digest.
var ErrNotFound = errors.New("apikey: not found")

// Digest is the SHA-256 of a key.
type Digest [32]byte

// Hash returns the digest of key.
func Hash(key string) Digest { return sha256.Sum256([]byte(key)) }

// String returns "sha256:<hex>", the form used in the keys file.
func (d Digest) String() string { return "sha256:" + hex.EncodeToString(d[:]) }

// ParseDigest parses "sha256:<64 hex>".
func ParseDigest(s string) (Digest, error) {
	var d Digest
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return d, fmt.Errorf("apikey: hash %q: want sha256:<hex>", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("apikey: hash %q: want 64 hex digits", s)
	}
	copy(d[:], b)
	return d, nil
}

// Key is one stored API key (its digest and attributes, never the key).
type Key struct {
	Digest  Digest
	Subject string
	Roles   []string
	Scopes  []string
	Expires time.Time // zero: never
}

// Store finds keys by digest. Implementations are safe for concurrent use.
type Store interface {
	// Lookup returns the key with digest d, or ErrNotFound.
	Lookup(ctx context.Context, d Digest) (*Key, error)
}

// Memory is a Store over a fixed list of keys. It is immutable.
type Memory struct{ m map[Digest]*Key }

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store; duplicate digests are an error.
func NewMemory(keys []Key) (*Memory, error) {
	m := &Memory{m: make(map[Digest]*Key, len(keys))}
	for i := range keys {
		k := keys[i]
		if _, dup := m.m[k.Digest]; dup {
			return nil, fmt.Errorf("apikey: duplicate key %s", k.Digest)
		}
		m.m[k.Digest] = &k
	}
	return m, nil
}

// Lookup implements Store.
//
// Timing: the map lookup's duration depends on the digest of the presented
// key, never on how close the presented key is to a stored one. To steer the
// digest bit by bit toward a stored digest an attacker would need SHA-256
// preimages, so timing leaks nothing usable about stored keys. The final
// constant-time compare of the full digests is belt and braces.
func (m *Memory) Lookup(_ context.Context, d Digest) (*Key, error) {
	k, ok := m.m[d]
	if !ok || subtle.ConstantTimeCompare(k.Digest[:], d[:]) != 1 {
		return nil, ErrNotFound
	}
	return k, nil
}

// Len returns the number of keys.
func (m *Memory) Len() int { return len(m.m) }

// fileKey is one entry of the keys file.
type fileKey struct {
	Hash    string   `yaml:"hash"`
	Subject string   `yaml:"subject"`
	Roles   []string `yaml:"roles"`
	Scopes  []string `yaml:"scopes"`
	Expires string   `yaml:"expires"` // RFC 3339 or date (YYYY-MM-DD, end of day UTC)
}

// LoadFile reads a keys file: a YAML list of
// {hash: "sha256:<hex>", subject, roles, scopes, expires}.
func LoadFile(path string) (*Memory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apikey: read keys file: %w", err)
	}
	return Parse(b)
}

// Parse parses the keys file format (see LoadFile). Unknown fields are errors.
func Parse(b []byte) (*Memory, error) {
	var list []fileKey
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("apikey: keys file: %w", err)
	}
	keys := make([]Key, 0, len(list))
	for i, fk := range list {
		d, err := ParseDigest(fk.Hash)
		if err != nil {
			return nil, fmt.Errorf("apikey: keys file entry %d: %w", i, err)
		}
		if fk.Subject == "" {
			return nil, fmt.Errorf("apikey: keys file entry %d: subject is required", i)
		}
		k := Key{Digest: d, Subject: fk.Subject, Roles: fk.Roles, Scopes: fk.Scopes}
		if fk.Expires != "" {
			k.Expires, err = parseExpiry(fk.Expires)
			if err != nil {
				return nil, fmt.Errorf("apikey: keys file entry %d: %w", i, err)
			}
		}
		keys = append(keys, k)
	}
	return NewMemory(keys)
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expires %q: want RFC 3339 or YYYY-MM-DD", s)
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil
}

// Options configures an Authenticator.
type Options struct {
	// Header carrying the key; default "X-API-Key" (unless Query is set).
	Header string
	// Query parameter carrying the key (leaks into logs; validate warns).
	Query string
	Store Store
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Authenticator is an authn.Authenticator for API keys. Safe for concurrent use.
type Authenticator struct{ o Options }

var _ authn.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator.
func New(o Options) (*Authenticator, error) {
	if o.Store == nil {
		return nil, errors.New("apikey: a store is required")
	}
	if o.Header == "" && o.Query == "" {
		o.Header = "X-API-Key"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Authenticator{o: o}, nil
}

// Authenticate implements authn.Authenticator. A key sent twice (two
// headers, or header and query) is refused.
func (a *Authenticator) Authenticate(r *http.Request) (*authn.Principal, error) {
	var vals []string
	if a.o.Header != "" {
		vals = append(vals, r.Header.Values(a.o.Header)...)
	}
	if a.o.Query != "" && r.URL.RawQuery != "" {
		vals = append(vals, r.URL.Query()[a.o.Query]...)
	}
	switch len(vals) {
	case 0:
		return nil, authn.ErrNoCredentials
	case 1:
	default:
		return nil, authn.Fail(authn.ReasonMultipleTokens, fmt.Errorf("%d api keys in one request", len(vals)))
	}
	key := strings.TrimSpace(vals[0])
	if key == "" || len(key) > MaxKeyLen {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("api key of %d bytes", len(key)))
	}
	d := Hash(key)
	k, err := a.o.Store.Lookup(r.Context(), d)
	if errors.Is(err, ErrNotFound) {
		return nil, authn.Fail(authn.ReasonUnknownKey, fmt.Errorf("key %s…", d.String()[:15]))
	}
	if err != nil {
		return nil, authn.Fail(authn.ReasonStoreError, err)
	}
	if !k.Expires.IsZero() && !a.o.Now().Before(k.Expires) {
		return nil, authn.Fail(authn.ReasonKeyExpired, fmt.Errorf("key of %q expired %s", k.Subject, k.Expires.Format(time.RFC3339)))
	}
	claims := map[string]any{"sub": k.Subject, "key_id": d.String()[:15]}
	return &authn.Principal{Subject: k.Subject, Method: "api_key", Roles: k.Roles, Scopes: k.Scopes,
		Claims: claims, ExpiresAt: k.Expires}, nil
}

// Generate returns a fresh key (Prefix + 256 random bits, base64url) and
// its digest.
func Generate() (string, Digest, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Digest{}, fmt.Errorf("apikey: random: %w", err)
	}
	key := Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, Hash(key), nil
}
