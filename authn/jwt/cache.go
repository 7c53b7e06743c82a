package jwt

import (
	"container/list"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// cache is a bounded LRU of verified tokens keyed by the token's SHA-256.
// An entry never outlives the token's exp (nor the cache's max TTL), and is
// ignored (and the whole cache purged) once its issuer's key generation
// changes. Revocation is checked after every hit, never cached.
type cache struct {
	mu     sync.Mutex
	max    int
	maxTTL time.Duration
	ll     *list.List
	m      map[[32]byte]*list.Element
}

type cacheEntry struct {
	key     [32]byte
	p       *authn.Principal
	issuer  int
	gen     uint64
	expires time.Time
}

func newCache(max int, maxTTL time.Duration) *cache {
	return &cache{max: max, maxTTL: maxTTL, ll: list.New(), m: make(map[[32]byte]*list.Element, max)}
}

// get returns the entry for key if it is still fresh at now.
func (c *cache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return cacheEntry{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.m, key)
		return cacheEntry{}, false
	}
	c.ll.MoveToFront(el)
	return *e, true
}

func (c *cache) put(key [32]byte, p *authn.Principal, issuer int, gen uint64, now time.Time) {
	exp := now.Add(c.maxTTL)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt
	}
	if !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		e := el.Value.(*cacheEntry)
		e.p, e.issuer, e.gen, e.expires = p, issuer, gen, exp
		c.ll.MoveToFront(el)
		return
	}
	for c.ll.Len() >= c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*cacheEntry).key)
	}
	c.m[key] = c.ll.PushFront(&cacheEntry{key: key, p: p, issuer: issuer, gen: gen, expires: exp})
}

// purge drops every entry (on a key set change).
func (c *cache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
