package gateway

import (
	"sync"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// LimitState is the in-memory rate-limit and lockout state that outlives a
// pipeline: a Server keeps one for its lifetime and gives it to every
// Build, so a reload (SIGHUP, POST /-/reload, a file change) does not reset
// the counters. Inside a store each limit's state is namespaced by its
// definition (name, rate, burst, key, operations; the lockout by
// after_failures, base and max), so an unchanged limit carries on and a
// changed one starts fresh; state of removed or changed limits ages out of
// the store's LRU (memory stays bounded by max_keys). A changed max_keys
// gets a new store. Safe for concurrent use.
//
// It also holds the concurrency caps' in-flight counts (by cap definition),
// so requests still in flight on the pipeline being replaced keep counting
// against the new pipeline's caps: reloading cannot double a cap.
type LimitState struct {
	mu       sync.Mutex
	memory   map[int]*ratelimit.MemoryStore
	inflight map[string]*inflightCap
	keyed    map[string]*keyCounts
}

// NewLimitState returns an empty state.
func NewLimitState() *LimitState {
	return &LimitState{memory: map[int]*ratelimit.MemoryStore{}, inflight: map[string]*inflightCap{}, keyed: map[string]*keyCounts{}}
}

// inflightCap returns the cap counting under def (max included in def);
// a nil state gives a fresh one.
func (s *LimitState) inflightCap(def string, max int64) *inflightCap {
	if s == nil {
		return &inflightCap{max: max}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.inflight[def]
	if !ok {
		c = &inflightCap{max: max}
		s.inflight[def] = c
	}
	return c
}

// keyCounts returns the per-key counts under def; a nil state gives fresh ones.
func (s *LimitState) keyCounts(def string) *keyCounts {
	if s == nil {
		return &keyCounts{n: map[string]int{}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.keyed[def]
	if !ok {
		c = &keyCounts{n: map[string]int{}}
		s.keyed[def] = c
	}
	return c
}

// memoryStore returns the store bounded by maxKeys, created on first use.
func (s *LimitState) memoryStore(maxKeys int) *ratelimit.MemoryStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.memory[maxKeys]
	if !ok {
		m = ratelimit.NewMemoryStore(ratelimit.MemoryOptions{MaxKeys: maxKeys})
		s.memory[maxKeys] = m
	}
	return m
}
