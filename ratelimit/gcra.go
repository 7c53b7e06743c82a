package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Decision is the outcome of one rate-limit check.
type Decision struct {
	// Allowed reports whether the request conforms to the limit.
	Allowed bool
	// Limit is the burst: how many requests a fresh key may make at once.
	Limit int
	// Remaining is how many more requests could be made right now.
	Remaining int
	// RetryAfter is how long to wait until a request would be allowed
	// (zero when Allowed).
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst.
	ResetAfter time.Duration
}

// Limiter decides whether the request identified by key may proceed at now.
// Time is a parameter so tests (and nodes sharing a store) control it.
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (Decision, error)
}

// Op is one (limit, key) pair to check within a request.
type Op struct {
	Policy *Policy
	Key    string
}

// Store holds GCRA state for many keys. Take checks every op against the
// same instant and charges them all only if all are allowed, so a request
// refused by one limit does not use up the others; out (len(ops)) receives
// one Decision per op. Implementations must be safe for concurrent use.
type Store interface {
	Take(ctx context.Context, ops []Op, now time.Time, out []Decision) error
}

// ErrStoreUnavailable is wrapped by store errors caused by an unreachable
// backend (and by the middleware while it backs off from a failed store).
var ErrStoreUnavailable = errors.New("ratelimit: store unavailable")

// GCRA is a Limiter applying one Policy to keys held in a Store. It is safe
// for concurrent use.
type GCRA struct {
	policy *Policy
	store  Store
}

var _ Limiter = (*GCRA)(nil)

// NewGCRA returns a Limiter for p. A nil store means a new MemoryStore with
// default bounds.
func NewGCRA(p *Policy, store Store) *GCRA {
	if store == nil {
		store = NewMemoryStore(MemoryOptions{})
	}
	return &GCRA{policy: p, store: store}
}

// Allow implements Limiter.
func (g *GCRA) Allow(ctx context.Context, key string, now time.Time) (Decision, error) {
	var out [1]Decision
	err := g.store.Take(ctx, []Op{{Policy: g.policy, Key: key}}, now, out[:])
	return out[0], err
}

// gcra evaluates one request at now (ns) against the stored theoretical
// arrival time tat (0: no state). It returns the decision and the TAT to
// store if the request is charged.
//
// With emission interval T and tolerance tau = T*burst: the request is
// allowed when now >= max(tat, now) + T - tau. Remaining counts how many more
// intervals fit under the tolerance.
func gcra(p *Policy, tat, now int64) (Decision, int64) {
	if tat < now {
		tat = now
	}
	nt := tat + p.interval
	allowAt := nt - p.tau
	d := Decision{Limit: p.Burst}
	if now < allowAt {
		d.RetryAfter = time.Duration(allowAt - now)
		d.ResetAfter = time.Duration(tat - now)
		return d, tat
	}
	d.Allowed = true
	d.Remaining = int((now - allowAt) / p.interval)
	d.ResetAfter = time.Duration(nt - now)
	return d, nt
}
