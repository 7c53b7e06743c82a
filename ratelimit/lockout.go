package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// LockoutPolicy is a progressive lockout: after AfterFailures consecutive
// failures an account is locked for Base, and every further failure doubles
// the lock, up to Max. A success resets the count; so does a quiet period of
// Max after the last failure or lock.
type LockoutPolicy struct {
	AfterFailures int
	Base, Max     time.Duration

	// ns is the namespace of the lock state in a MemoryStore, set by New
	// from the definition (empty: one shared lockout namespace).
	ns string
}

// storeName is the namespace of p's state in a MemoryStore.
func (p *LockoutPolicy) storeName() string {
	if p.ns != "" {
		return p.ns
	}
	return lockoutName
}

// definition identifies p for state kept across reloads.
func (p *LockoutPolicy) definition() string {
	return lockoutName + "\x00" + strconv.Itoa(p.AfterFailures) + "\x00" + strconv.FormatInt(int64(p.Base), 10) + "\x00" + strconv.FormatInt(int64(p.Max), 10)
}

// Validate reports whether p is usable.
func (p *LockoutPolicy) Validate() error {
	if p.AfterFailures < 1 {
		return errors.New("ratelimit: lockout after_failures must be >= 1")
	}
	if p.Base <= 0 || p.Max < p.Base {
		return fmt.Errorf("ratelimit: lockout needs 0 < base (%s) <= max (%s)", p.Base, p.Max)
	}
	return nil
}

// lockFor returns the lock duration after failures consecutive failures.
func (p *LockoutPolicy) lockFor(failures int64) time.Duration {
	if failures < int64(p.AfterFailures) {
		return 0
	}
	d := p.Base
	for i := int64(p.AfterFailures); i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// LockoutStore keeps failure counts and locks per account key. All methods
// are safe for concurrent use.
type LockoutStore interface {
	// Locked returns how long key stays locked (0: not locked).
	Locked(ctx context.Context, p *LockoutPolicy, key string, now time.Time) (time.Duration, error)
	// Failure counts a failed attempt and returns the lock it triggered (0: none).
	Failure(ctx context.Context, p *LockoutPolicy, key string, now time.Time) (time.Duration, error)
	// Success clears key's failures.
	Success(ctx context.Context, p *LockoutPolicy, key string) error
}

const lockoutName = "\x00lockout"

// Locked implements LockoutStore.
func (m *MemoryStore) Locked(_ context.Context, p *LockoutPolicy, key string, now time.Time) (time.Duration, error) {
	h := hashKey(p.storeName(), key)
	s := &m.shards[m.shardOf(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.idx[h]
	if !ok {
		return 0, nil
	}
	f, until := s.ents[e].v1, s.ents[e].v2
	if ns := now.UnixNano(); f >= int64(p.AfterFailures) && until > ns {
		return time.Duration(until - ns), nil
	}
	return 0, nil
}

// Failure implements LockoutStore.
func (m *MemoryStore) Failure(_ context.Context, p *LockoutPolicy, key string, now time.Time) (time.Duration, error) {
	h := hashKey(p.storeName(), key)
	s := &m.shards[m.shardOf(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(h, m.perShard)
	ns := now.UnixNano()
	en := &s.ents[e]
	if en.v1 > 0 && ns-en.v2 > int64(p.Max) {
		en.v1 = 0 // quiet for Max: forget old failures
	}
	en.v1++
	lock := p.lockFor(en.v1)
	en.v2 = max(en.v2, ns+int64(lock))
	return lock, nil
}

// Success implements LockoutStore.
func (m *MemoryStore) Success(_ context.Context, p *LockoutPolicy, key string) error {
	h := hashKey(p.storeName(), key)
	s := &m.shards[m.shardOf(h)]
	s.mu.Lock()
	s.drop(h)
	s.mu.Unlock()
	return nil
}
