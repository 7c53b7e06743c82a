// Package redisstore is a revocation.Store in Redis (or Valkey), shared by
// every gateway replica: a token revoked through one node is rejected by all
// of them on their next request, because every check reads Redis directly
// (no local caching of "not revoked").
//
// Each revocation is one key with a TTL equal to the revoked token's
// remaining life; a check is one MGET round trip. Every call runs under its
// own short timeout, and callers fail closed on error.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/authn/revocation"
)

// Options configures a Store.
type Options struct {
	// Prefix starts every key; default "gatehouse:revoked:".
	Prefix string
	// Timeout bounds each Redis call; default 250ms.
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is a revocation.Store backed by Redis. It is safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	owned   bool
}

var _ revocation.Store = (*Store)(nil)

// Open connects to the Redis server at url ("redis://host:port/db" or
// "rediss://..."). The returned Store owns the client and closes it in Close.
func Open(url string, o Options) (*Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse url: %w", err)
	}
	opt.DialTimeout = 2 * time.Second
	s := New(redis.NewClient(opt), o)
	s.owned = true
	return s, nil
}

// New wraps an existing client; Close does not close it.
func New(c redis.UniversalClient, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "gatehouse:revoked:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{c: c, prefix: o.Prefix, timeout: o.Timeout, now: o.Now}
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.c.Ping(ctx).Err()
}

func (s *Store) jtiKey(jti string) string { return s.prefix + "jti:" + jti }
func (s *Store) subKey(sub string) string { return s.prefix + "sub:" + sub }

// RevokeToken implements revocation.Store.
func (s *Store) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errors.New("redisstore: empty token id")
	}
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Set(ctx, s.jtiKey(jti), "1", ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke token: %w", err)
	}
	return nil
}

// maxScript keeps the largest "before" for a subject and extends the TTL,
// atomically, so that two nodes revoking at once never shorten each other.
var maxScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[1])
if v > cur then redis.call('SET', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`)

// RevokeSubject implements revocation.Store.
func (s *Store) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	if subject == "" {
		return errors.New("redisstore: empty subject")
	}
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := maxScript.Run(ctx, s.c, []string{s.subKey(subject)},
		strconv.FormatInt(before.UnixMilli(), 10), strconv.FormatInt(ttl.Milliseconds()+1, 10)).Err()
	if err != nil {
		return fmt.Errorf("redisstore: revoke subject: %w", err)
	}
	return nil
}

// Check implements revocation.Store with one MGET.
func (s *Store) Check(ctx context.Context, jti, subject string, issuedAt time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// An empty jti or subject maps to a key that is never written.
	vals, err := s.c.MGet(ctx, s.jtiKey(jti), s.subKey(subject)).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: check: %w", err)
	}
	if jti != "" && vals[0] != nil {
		return true, nil
	}
	if subject != "" && vals[1] != nil {
		str, _ := vals[1].(string)
		ms, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return true, fmt.Errorf("redisstore: bad subject entry: %w", err)
		}
		if issuedAt.IsZero() || issuedAt.Before(time.UnixMilli(ms)) {
			return true, nil
		}
	}
	return false, nil
}

// Close closes the client if the Store opened it.
func (s *Store) Close() error {
	if s.owned {
		return s.c.Close()
	}
	return nil
}

var _ revocation.Binder = (*Store)(nil)

func (s *Store) bindKey(key string) string { return s.prefix + "bind:" + key }

// bindScript keeps the first fingerprint of a key (extending its TTL when
// the same fingerprint binds again) and returns the fingerprint kept.
var bindScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if cur == ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
return cur`)

// Bind implements revocation.Binder with one script call (atomic across
// replicas: two nodes binding the same key at once keep one fingerprint).
func (s *Store) Bind(ctx context.Context, key, fingerprint string, until time.Time) (string, error) {
	if key == "" {
		return "", errors.New("redisstore: empty binding key")
	}
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return fingerprint, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := bindScript.Run(ctx, s.c, []string{s.bindKey(key)}, fingerprint, strconv.FormatInt(ttl.Milliseconds()+1, 10)).Text()
	if err != nil {
		return "", fmt.Errorf("redisstore: bind: %w", err)
	}
	return v, nil
}

// Binding implements revocation.Binder.
func (s *Store) Binding(ctx context.Context, key string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := s.c.Get(ctx, s.bindKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redisstore: binding: %w", err)
	}
	return v, true, nil
}
