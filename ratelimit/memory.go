package ratelimit

import (
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxKeys is the MemoryStore key cap when none is configured.
const DefaultMaxKeys = 1_000_000

// MemoryOptions bound a MemoryStore.
type MemoryOptions struct {
	// MaxKeys caps the number of keys held (default DefaultMaxKeys). Each
	// shard holds at most MaxKeys/Shards keys; when a shard is full, its
	// least recently used key is evicted (so the total may stay slightly
	// below MaxKeys when hashing fills shards unevenly). An evicted key
	// starts over with a full burst: size the cap above the set of keys
	// active within one limit window.
	MaxKeys int
	// Shards is the number of independently locked shards, rounded up to a
	// power of two (default 128).
	Shards int
}

// MemoryStore is an in-process Store (and LockoutStore): keys are hashed
// with a per-process random seed into shards, each a map plus an
// index-linked LRU list under its own mutex, so a decision is O(1) and
// never takes a global lock. Memory is bounded by MaxKeys: a flood of
// distinct keys (random source addresses, attacker-chosen header values)
// evicts the least recently used keys instead of growing.
//
// Keys are stored as 64-bit hashes only (about 56 bytes per key including
// the map): two keys collide with probability ~n²/2^65, and an attacker
// cannot aim for a collision without the seed. Safe for concurrent use.
type MemoryStore struct {
	shards   []shard
	shift    uint
	perShard int
}

type entry struct {
	h          uint64
	v1, v2     int64 // GCRA: v1 = TAT (ns). Lockout: v1 = failures, v2 = until (ns).
	prev, next int32
}

type shard struct {
	mu        sync.Mutex
	idx       map[uint64]int32
	ents      []entry
	head      int32 // most recently used, -1 when empty
	tail      int32 // least recently used
	free      int32 // free list through next
	evictions atomic.Uint64
	_         [64]byte // keep neighbouring shards' locks off one cache line
}

var (
	_ Store        = (*MemoryStore)(nil)
	_ LockoutStore = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty store bounded by o.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	n := o.Shards
	if n <= 0 {
		n = 128
	}
	if n > o.MaxKeys {
		n = o.MaxKeys
	}
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	if n < 1 {
		n = 1
	}
	per := o.MaxKeys / n
	if per < 1 {
		per = 1
	}
	m := &MemoryStore{shards: make([]shard, n), shift: uint(64 - bits.Len(uint(n-1))), perShard: per}
	if n == 1 {
		m.shift = 64
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.idx = make(map[uint64]int32)
		s.head, s.tail, s.free = -1, -1, -1
	}
	return m
}

var seed = maphash.MakeSeed()

// hashKey mixes the limit name and the key; names cannot contain NUL, so the
// lockout namespace ("\x00lockout") never collides with a limit.
func hashKey(name, key string) uint64 {
	h := maphash.String(seed, key) ^ bits.RotateLeft64(maphash.String(seed, name)*0x9E3779B97F4A7C15, 29)
	// splitmix64 finalizer: spread bits for the shard index.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func (m *MemoryStore) shardOf(h uint64) int {
	if m.shift >= 64 {
		return 0
	}
	return int(h >> m.shift)
}

// Len returns the number of keys held (for tests and metrics).
func (m *MemoryStore) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}

// Evictions returns how many keys were evicted to respect MaxKeys.
func (m *MemoryStore) Evictions() uint64 {
	var n uint64
	for i := range m.shards {
		n += m.shards[i].evictions.Load()
	}
	return n
}

// Take implements Store. The shards of all ops are locked in index order, so
// the check-all-then-charge-all step is atomic without a global lock.
func (m *MemoryStore) Take(_ context.Context, ops []Op, now time.Time, out []Decision) error {
	var hb [8]uint64
	var sb [8]int
	hs, ss := hb[:0], sb[:0]
	if len(ops) > len(hb) {
		hs, ss = make([]uint64, 0, len(ops)), make([]int, 0, len(ops))
	}
	for _, op := range ops {
		h := hashKey(op.Policy.storeName(), op.Key)
		hs = append(hs, h)
		si := m.shardOf(h)
		// insertion into the sorted, de-duplicated shard list
		j := len(ss)
		dup := false
		for k, v := range ss {
			if v == si {
				dup = true
				break
			}
			if v > si {
				j = k
				break
			}
		}
		if !dup {
			ss = append(ss, 0)
			copy(ss[j+1:], ss[j:])
			ss[j] = si
		}
	}
	for _, si := range ss {
		m.shards[si].mu.Lock()
	}
	ns := now.UnixNano()
	all := true
	var tb [8]int64
	tats := tb[:0]
	if len(ops) > len(tb) {
		tats = make([]int64, 0, len(ops))
	}
	for i, op := range ops {
		s := &m.shards[m.shardOf(hs[i])]
		var tat int64
		if e, ok := s.idx[hs[i]]; ok {
			tat = s.ents[e].v1
		}
		d, nt := gcra(op.Policy, tat, ns)
		out[i] = d
		tats = append(tats, nt)
		all = all && d.Allowed
	}
	if all {
		for i := range ops {
			s := &m.shards[m.shardOf(hs[i])]
			e := s.get(hs[i], m.perShard)
			s.ents[e].v1 = tats[i]
		}
	} else {
		// Nothing was charged: report the allowed ones as not consumed,
		// and keep the refused keys fresh in the LRU order (an active
		// attacker's key must not age out and come back with a full burst).
		for i := range ops {
			s := &m.shards[m.shardOf(hs[i])]
			if e, ok := s.idx[hs[i]]; ok {
				s.moveToFront(e)
			}
		}
		for i := range out {
			if out[i].Allowed {
				out[i].Remaining++
				if out[i].Remaining > out[i].Limit {
					out[i].Remaining = out[i].Limit
				}
			}
		}
	}
	for k := len(ss) - 1; k >= 0; k-- {
		m.shards[ss[k]].mu.Unlock()
	}
	return nil
}

// get returns the slot of h, creating it (and evicting the least recently
// used key when the shard holds capacity keys) and marking it most recently
// used. The caller holds s.mu.
func (s *shard) get(h uint64, capacity int) int32 {
	if e, ok := s.idx[h]; ok {
		s.moveToFront(e)
		return e
	}
	var e int32
	switch {
	case len(s.idx) >= capacity && s.tail >= 0:
		e = s.tail
		s.unlink(e)
		delete(s.idx, s.ents[e].h)
		s.evictions.Add(1)
	case s.free >= 0:
		e = s.free
		s.free = s.ents[e].next
	default:
		s.ents = append(s.ents, entry{})
		e = int32(len(s.ents) - 1)
	}
	s.ents[e] = entry{h: h, prev: -1, next: -1}
	s.idx[h] = e
	s.pushFront(e)
	return e
}

// drop removes h if present. The caller holds s.mu.
func (s *shard) drop(h uint64) {
	e, ok := s.idx[h]
	if !ok {
		return
	}
	s.unlink(e)
	delete(s.idx, h)
	s.ents[e] = entry{next: s.free, prev: -1}
	s.free = e
}

func (s *shard) unlink(e int32) {
	p, n := s.ents[e].prev, s.ents[e].next
	if p >= 0 {
		s.ents[p].next = n
	} else {
		s.head = n
	}
	if n >= 0 {
		s.ents[n].prev = p
	} else {
		s.tail = p
	}
	s.ents[e].prev, s.ents[e].next = -1, -1
}

func (s *shard) pushFront(e int32) {
	s.ents[e].prev = -1
	s.ents[e].next = s.head
	if s.head >= 0 {
		s.ents[s.head].prev = e
	}
	s.head = e
	if s.tail < 0 {
		s.tail = e
	}
}

func (s *shard) moveToFront(e int32) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}
