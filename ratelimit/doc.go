// Package ratelimit limits request rates with GCRA (the generic cell rate
// algorithm): one stored timestamp per key, exact burst and refill, and
// time passed in as a parameter so tests and clustered nodes control it.
//
// A [Middleware] checks every [Limit] that applies to a request (per IP on
// login AND per user AND per operation ...), charges them all only if all
// allow, and answers 429 with Retry-After and the IETF RateLimit /
// RateLimit-Policy fields of the strictest limit. Keys ([Key]) are built
// from the canonical route (gatehouse.Route), the verified principal and the
// client address resolved behind trusted proxies, never from the raw path,
// so path spelling variants share a bucket. [Login] adds per-account limits
// and a progressive lockout against credential stuffing and password spraying.
//
// Counters live in a [Store]: [MemoryStore] (sharded, bounded, O(1)) on one
// node, or redislimit.Store across nodes. What happens when the shared store
// fails is chosen explicitly ([StoreErrorMode]).
//
// Keys can also be CEL expressions ([KeyCEL], config "cel:<expr>"), over
// the authz rules' variable names. Why cel-go with its own environment
// rather than authz/celpolicy's compiler: celpolicy only compiles bool rules
// typed per operation, while a key returns a string and a limit spans many
// operations; the cost limit is a tenth of authz's since keys run on every
// request, and a failing key fails closed into a fixed error bucket.
//
// Why GCRA rather than golang.org/x/time/rate: x/time/rate keeps a float
// bucket per Limiter object and a mutex each; GCRA needs one int64 per key,
// which fits a bounded map in memory and one atomic Lua script in Redis.
package ratelimit
