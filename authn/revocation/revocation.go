// Package revocation keeps the list of revoked tokens: single tokens by ID
// (jti), and every token of a subject issued before a point in time ("log out
// everywhere"). Entries expire when the tokens they cover would have expired
// anyway, so the list stays small.
//
// Memory is the single-node store; redisstore shares one list between
// gateway replicas. Checks are made on every request, after the verified-token
// cache, so a revocation takes effect at once on every node that reads the
// same store.
package revocation

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrFull is returned by Memory when the store is at capacity even after
// dropping expired entries. Revocation refuses rather than silently forgets.
var ErrFull = errors.New("revocation: store full")

// Store records and checks revocations. Implementations are safe for
// concurrent use. Check fails closed: callers treat an error as "revoked".
type Store interface {
	// RevokeToken revokes the token with ID jti until the given time (the
	// token's expiry: after it, the token is rejected anyway).
	RevokeToken(ctx context.Context, jti string, until time.Time) error
	// RevokeSubject revokes every token of subject issued before before;
	// the entry is kept until until.
	RevokeSubject(ctx context.Context, subject string, before, until time.Time) error
	// Check reports whether the token with ID jti (may be empty), of subject,
	// issued at issuedAt (zero when unknown: then any subject revocation
	// applies) is revoked.
	Check(ctx context.Context, jti, subject string, issuedAt time.Time) (bool, error)
	// Close releases the store's resources.
	Close() error
}

// Memory is an in-process Store, bounded to a maximum number of entries.
// Expired entries are dropped lazily. The zero value is not usable; use NewMemory.
type Memory struct {
	mu     sync.Mutex
	max    int
	now    func() time.Time
	tokens map[string]time.Time // jti -> until
	subs   map[string]subEntry
	binds  map[string]bindEntry // Binder
}

type subEntry struct{ before, until time.Time }

// NewMemory returns a Memory store holding at most max entries (tokens plus
// subjects; 100000 when max <= 0). now is the clock (time.Now when nil).
func NewMemory(max int, now func() time.Time) *Memory {
	if max <= 0 {
		max = 100000
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{max: max, now: now, tokens: map[string]time.Time{}, subs: map[string]subEntry{}, binds: map[string]bindEntry{}}
}

var _ Store = (*Memory)(nil)

// RevokeToken implements Store.
func (m *Memory) RevokeToken(_ context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errors.New("revocation: empty token id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !until.After(now) {
		return nil // already expired: nothing to remember
	}
	if _, ok := m.tokens[jti]; !ok {
		if err := m.roomLocked(now); err != nil {
			return err
		}
	}
	if until.After(m.tokens[jti]) {
		m.tokens[jti] = until
	}
	return nil
}

// RevokeSubject implements Store.
func (m *Memory) RevokeSubject(_ context.Context, subject string, before, until time.Time) error {
	if subject == "" {
		return errors.New("revocation: empty subject")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !until.After(now) {
		return nil
	}
	e, ok := m.subs[subject]
	if !ok {
		if err := m.roomLocked(now); err != nil {
			return err
		}
	}
	if before.After(e.before) {
		e.before = before
	}
	if until.After(e.until) {
		e.until = until
	}
	m.subs[subject] = e
	return nil
}

// roomLocked makes room for one entry by dropping expired ones.
func (m *Memory) roomLocked(now time.Time) error {
	if len(m.tokens)+len(m.subs)+len(m.binds) < m.max {
		return nil
	}
	for k, u := range m.tokens {
		if !u.After(now) {
			delete(m.tokens, k)
		}
	}
	for k, e := range m.subs {
		if !e.until.After(now) {
			delete(m.subs, k)
		}
	}
	for k, e := range m.binds {
		if !e.until.After(now) {
			delete(m.binds, k)
		}
	}
	if len(m.tokens)+len(m.subs)+len(m.binds) >= m.max {
		return ErrFull
	}
	return nil
}

// Check implements Store.
func (m *Memory) Check(_ context.Context, jti, subject string, issuedAt time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if jti != "" {
		if u, ok := m.tokens[jti]; ok && u.After(now) {
			return true, nil
		}
	}
	if subject != "" {
		if e, ok := m.subs[subject]; ok && e.until.After(now) {
			if issuedAt.IsZero() || issuedAt.Before(e.before) {
				return true, nil
			}
		}
	}
	return false, nil
}

// Len returns the number of entries held (expired ones included until pruned).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens) + len(m.subs) + len(m.binds)
}

// Close implements Store; it is a no-op.
func (m *Memory) Close() error { return nil }

// Binder keeps one fingerprint per key until a time: the client an opaque
// session cookie was issued to (the gateway's cookies.sessions.bind).
// Implementations are safe for concurrent use.
type Binder interface {
	// Bind records fingerprint for key until until, unless key is already
	// bound (to any fingerprint) and not expired: the first binding stays,
	// so a later Set-Cookie of the same value cannot move it to another
	// client. A binding to the same fingerprint is extended to until. It
	// returns the fingerprint key is bound to afterwards.
	Bind(ctx context.Context, key, fingerprint string, until time.Time) (string, error)
	// Binding returns the fingerprint key is bound to, if any.
	Binding(ctx context.Context, key string) (fingerprint string, ok bool, err error)
}

type bindEntry struct {
	fp    string
	until time.Time
}

var _ Binder = (*Memory)(nil)

// Bind implements Binder; bindings count towards the store's maximum.
func (m *Memory) Bind(_ context.Context, key, fingerprint string, until time.Time) (string, error) {
	if key == "" {
		return "", errors.New("revocation: empty binding key")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if e, ok := m.binds[key]; ok && e.until.After(now) {
		if e.fp == fingerprint && until.After(e.until) {
			e.until = until
			m.binds[key] = e
		}
		return e.fp, nil
	}
	if !until.After(now) {
		return fingerprint, nil
	}
	if _, ok := m.binds[key]; !ok {
		if err := m.roomLocked(now); err != nil {
			return "", err
		}
	}
	m.binds[key] = bindEntry{fp: fingerprint, until: until}
	return fingerprint, nil
}

// Binding implements Binder.
func (m *Memory) Binding(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.binds[key]; ok && e.until.After(m.now()) {
		return e.fp, true, nil
	}
	return "", false, nil
}
