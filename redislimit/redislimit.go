// Package redislimit is the Redis (and Valkey, and Redis Cluster) store for
// package ratelimit, so that N gateway replicas enforce one shared limit.
//
// Each decision is one EVALSHA of a GCRA Lua script (go-redis Script falls
// back to EVAL on NOSCRIPT): on a single Redis every limit of a request is
// checked and charged in one atomic round trip. Keys carry a hash tag over
// a hash of limit name and key ("gatehouse:rl:{<128-bit hex>}"), so they
// spread over Cluster slots and an attacker-chosen key cannot grow them.
//
// Time: by default the script reads the Redis server clock (TIME), so
// replicas whose clocks disagree still share one timeline; ClientTime uses
// the caller's now instead (deterministic tests, or clocks known to be synced).
// Why go-redis v9 with our own script rather than go-redis/redis_rate: we
// need several limits charged all-or-nothing in one call, which redis_rate
// does not offer.
package redislimit

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// Options configure a Store.
type Options struct {
	// URL is "redis://[user:pass@]host:port/db" or "rediss://..." (TLS).
	// With Cluster it is parsed as a cluster URL: the first node in the
	// host part and more as "?addr=host:port&addr=...".
	URL     string
	Cluster bool
	// PoolSize and MinIdleConns size the connection pool (0: go-redis
	// defaults, 10 per CPU).
	PoolSize     int
	MinIdleConns int
	// DialTimeout, ReadTimeout and WriteTimeout bound each connection
	// operation (defaults 1s, 200ms, 200ms: a rate-limit check must not
	// hold a request for long when Redis is slow).
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// Timeout bounds one whole decision, retries included (default 300ms).
	Timeout time.Duration
	// Prefix is prepended to every key (default "gatehouse:rl:").
	Prefix string
	// ClientTime uses the caller's now instead of the Redis server clock.
	ClientTime bool
}

// Store is a ratelimit.Store and ratelimit.LockoutStore in Redis. It is
// safe for concurrent use; Close releases the connection pool.
type Store struct {
	c          redis.UniversalClient
	cluster    bool
	timeout    time.Duration
	prefix     string
	clientTime bool
}

var (
	_ ratelimit.Store        = (*Store)(nil)
	_ ratelimit.LockoutStore = (*Store)(nil)
)

// New connects lazily (the first decision dials) and returns the store.
func New(o Options) (*Store, error) {
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 200 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 200 * time.Millisecond
	}
	var c redis.UniversalClient
	if o.Cluster {
		co, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redislimit: parse cluster url: %w", redactErr(err, o.URL))
		}
		co.PoolSize, co.MinIdleConns = o.PoolSize, o.MinIdleConns
		co.DialTimeout, co.ReadTimeout, co.WriteTimeout = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		c = redis.NewClusterClient(co)
	} else {
		ro, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redislimit: parse url: %w", redactErr(err, o.URL))
		}
		ro.PoolSize, ro.MinIdleConns = o.PoolSize, o.MinIdleConns
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		c = redis.NewClient(ro)
	}
	return NewFromClient(c, o), nil
}

// redactErr drops the URL (which may hold a password) from err's text.
func redactErr(err error, url string) error {
	if url == "" || !strings.Contains(err.Error(), url) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), url, "<redis url>"))
}

// NewFromClient wraps an existing client; URL, pool and connection timeouts
// in o are ignored. The store does not own c: Close closes it anyway, so
// pass a client dedicated to rate limiting.
func NewFromClient(c redis.UniversalClient, o Options) *Store {
	if o.Timeout <= 0 {
		o.Timeout = 300 * time.Millisecond
	}
	if o.Prefix == "" {
		o.Prefix = "gatehouse:rl:"
	}
	_, cl := c.(*redis.ClusterClient)
	return &Store{c: c, cluster: cl || o.Cluster, timeout: o.Timeout, prefix: o.Prefix, clientTime: o.ClientTime}
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.c.Close() }

// Ping checks that Redis answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis ping: %w", ratelimit.ErrStoreUnavailable, err)
	}
	return nil
}

// Key returns the Redis key for (name, key): the prefix and a hash tag over
// the first 128 bits of SHA-256(name NUL key).
func (s *Store) Key(name, key string) string {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [32]byte
	return s.prefix + "{" + hex.EncodeToString(h.Sum(sum[:0])[:16]) + "}"
}

//go:embed gcra.lua
var gcraSrc string

//go:embed lockout.lua
var lockoutSrc string

//go:embed refund.lua
var refundSrc string

var (
	gcraScript    = redis.NewScript(gcraSrc)
	lockoutScript = redis.NewScript(lockoutSrc)
	refundScript  = redis.NewScript(refundSrc)
)

func (s *Store) nowArg(now time.Time) string {
	if s.clientTime {
		return strconv.FormatInt(now.UnixMicro(), 10)
	}
	return ""
}

func intervalMicros(p *ratelimit.Policy) int64 {
	return max(p.IntervalNanos()/1000, 1)
}

// Take implements ratelimit.Store. On a single Redis all ops go in one
// atomic script call (all charged only if all allowed). On a Cluster the
// keys live in different slots, so each op is its own script call, sent
// together in one pipeline (one round trip per node); when any of them
// refuses, the ones that charged are refunded in a second pipeline, so a
// refused request is charged by no limit (see takeCluster).
func (s *Store) Take(ctx context.Context, ops []ratelimit.Op, now time.Time, out []ratelimit.Decision) error {
	if len(ops) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.cluster {
		return s.takeCluster(ctx, ops, now, out)
	}
	keys := make([]string, len(ops))
	args := make([]any, 0, 1+2*len(ops))
	args = append(args, s.nowArg(now))
	for i, op := range ops {
		keys[i] = s.Key(op.Policy.Name, op.Key)
		iv := intervalMicros(op.Policy)
		args = append(args, iv, iv*int64(op.Policy.Burst))
	}
	res, err := gcraScript.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("%w: redis gcra: %w", ratelimit.ErrStoreUnavailable, err)
	}
	_, err = decode(res, ops, out)
	return err
}

// pipeScript runs one call of script per element of calls in one pipeline
// (EVALSHA, then EVAL for all if any node answers NOSCRIPT).
func (s *Store) pipeScript(ctx context.Context, script *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	run := func(eval bool) ([]*redis.Cmd, error) {
		pipe := s.c.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			if eval {
				cmds[i] = script.Eval(ctx, pipe, c.keys, c.args...)
			} else {
				cmds[i] = script.EvalSha(ctx, pipe, c.keys, c.args...)
			}
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmds, err = run(true)
	}
	return cmds, err
}

type scriptCall struct {
	keys []string
	args []any
}

// takeCluster charges each op with its own script call (the keys hash to
// different slots), pipelined. If any op is refused, every op that charged
// is refunded by refund.lua, which subtracts the emission interval from the
// TAT when the TAT still contains our charge.
//
// Why refund rather than check-then-charge: the common case (all allowed)
// stays one round trip, and only a refused request pays a second one, to
// the nodes of the limits it charged. A peek-then-charge would cost two
// round trips on every request and could still race (two requests both
// peek "allowed", then one is refused at charge time, half charged). GCRA
// makes the refund exact: a charge adds exactly T to the stored TAT and
// later charges add on top, so subtracting T leaves the state as if the
// request had never been charged. Between charge and refund (one round
// trip) a concurrent request may see the charge and be refused: the error
// is on the strict side, never an extra admission. A failed refund leaves
// those limits charged (the pre-refund behaviour) and is not reported.
func (s *Store) takeCluster(ctx context.Context, ops []ratelimit.Op, now time.Time, out []ratelimit.Decision) error {
	calls := make([]scriptCall, len(ops))
	for i, op := range ops {
		iv := intervalMicros(op.Policy)
		calls[i] = scriptCall{keys: []string{s.Key(op.Policy.Name, op.Key)},
			args: []any{s.nowArg(now), iv, iv * int64(op.Policy.Burst)}}
	}
	cmds, err := s.pipeScript(ctx, gcraScript, calls)
	if err != nil {
		return fmt.Errorf("%w: redis gcra: %w", ratelimit.ErrStoreUnavailable, err)
	}
	tats := make([]int64, len(ops))
	all := true
	for i, c := range cmds {
		res, err := c.Int64Slice()
		if err != nil {
			return fmt.Errorf("%w: redis gcra: %w", ratelimit.ErrStoreUnavailable, err)
		}
		if tats[i], err = decode(res, ops[i:i+1], out[i:i+1]); err != nil {
			return err
		}
		all = all && out[i].Allowed
	}
	if all {
		return nil
	}
	var refunds []scriptCall
	for i, op := range ops {
		if out[i].Allowed && tats[i] > 0 {
			refunds = append(refunds, scriptCall{keys: calls[i].keys, args: []any{intervalMicros(op.Policy), tats[i]}})
			// Not charged after all: report the remaining as the single-Redis path does.
			out[i].Remaining = min(out[i].Remaining+1, out[i].Limit)
		}
	}
	if len(refunds) > 0 {
		_, _ = s.pipeScript(ctx, refundScript, refunds)
	}
	return nil
}

var errReply = errors.New("redislimit: malformed script reply")

// decode reads a gcra.lua reply into out and returns the TAT stored for the
// first op (0 when nothing was charged); the Cluster path calls it per op.
func decode(res []int64, ops []ratelimit.Op, out []ratelimit.Decision) (int64, error) {
	if len(res) != 1+4*len(ops) {
		return 0, errReply
	}
	for i, op := range ops {
		a, v1, v2 := res[1+3*i], res[2+3*i], res[3+3*i]
		d := ratelimit.Decision{Limit: op.Policy.Burst, ResetAfter: time.Duration(v2) * time.Microsecond}
		if a == 1 {
			d.Allowed = true
			d.Remaining = int(v1)
			if res[0] == 0 { // not charged: one more remains
				d.Remaining = min(d.Remaining+1, d.Limit)
			}
		} else {
			d.RetryAfter = time.Duration(v1) * time.Microsecond
		}
		out[i] = d
	}
	return res[1+3*len(ops)], nil
}

const lockoutTag = "\x00lockout"

func (s *Store) lockout(ctx context.Context, cmd string, p *ratelimit.LockoutPolicy, key string, now time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	us, err := lockoutScript.Run(ctx, s.c, []string{s.Key(lockoutTag, key)}, cmd, s.nowArg(now),
		p.AfterFailures, p.Base.Microseconds(), p.Max.Microseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("%w: redis lockout %s: %w", ratelimit.ErrStoreUnavailable, cmd, err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Locked implements ratelimit.LockoutStore.
func (s *Store) Locked(ctx context.Context, p *ratelimit.LockoutPolicy, key string, now time.Time) (time.Duration, error) {
	return s.lockout(ctx, "check", p, key, now)
}

// Failure implements ratelimit.LockoutStore.
func (s *Store) Failure(ctx context.Context, p *ratelimit.LockoutPolicy, key string, now time.Time) (time.Duration, error) {
	return s.lockout(ctx, "fail", p, key, now)
}

// Success implements ratelimit.LockoutStore.
func (s *Store) Success(ctx context.Context, p *ratelimit.LockoutPolicy, key string) error {
	_, err := s.lockout(ctx, "reset", p, key, time.Now())
	return err
}
