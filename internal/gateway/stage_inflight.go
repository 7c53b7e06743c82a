package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// inflightCap is a cap on requests in flight. acquire never blocks: a
// request over the cap is answered at once (queueing would hold the
// client's connection and memory as long as the slow operation runs).
type inflightCap struct {
	max int64
	cur atomic.Int64
}

func (c *inflightCap) acquire() bool {
	if c == nil {
		return true
	}
	if c.cur.Add(1) > c.max {
		c.cur.Add(-1)
		return false
	}
	return true
}

func (c *inflightCap) release() {
	if c != nil {
		c.cur.Add(-1)
	}
}

// keyedCap caps requests in flight per key value. An entry exists only
// while its key has requests in flight, so the map never holds more
// entries than there are requests in flight.
type keyedCap struct {
	key ratelimit.Key
	max int
	c   *keyCounts
}

// keyCounts are the per-key counts of a keyedCap (shared across reloads
// through LimitState).
type keyCounts struct {
	mu sync.Mutex
	n  map[string]int
}

// newKeyedCap builds the per-key cap of k; scope names where it applies
// ("" for all operations, else the operationId) for LimitState.
func newKeyedCap(k *config.InFlightKey, ip ratelimit.ClientIPFunc, st *LimitState, scope string) (*keyedCap, error) {
	if k == nil {
		return nil, nil
	}
	key, err := ratelimit.ParseKey(k.Key, ip)
	if err != nil {
		return nil, err
	}
	def := "key\x00" + scope + "\x00" + strings.Join(k.Key, "\x1f") + "\x00" + strconv.Itoa(k.MaxInFlight)
	return &keyedCap{key: key, max: k.MaxInFlight, c: st.keyCounts(def)}, nil
}

// acquire takes a slot for r's key; ok false: over the cap. A key that
// cannot be computed (a failing cel: expression) counts in the key's fixed
// error bucket, like a rate limit.
func (c *keyedCap) acquire(r *http.Request) (key string, ok bool) {
	if c == nil {
		return "", true
	}
	var kb [128]byte
	key = string(c.key.Append(kb[:0], r))
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.n[key] >= c.max {
		return "", false
	}
	c.c.n[key]++
	return key, true
}

func (c *keyedCap) release(key string) {
	if c == nil {
		return
	}
	c.c.mu.Lock()
	if c.c.n[key] <= 1 {
		delete(c.c.n, key)
	} else {
		c.c.n[key]--
	}
	c.c.mu.Unlock()
}

// opInflight holds one operation's caps and timeout.
type opInflight struct {
	cap     *inflightCap
	perKey  *keyedCap
	timeout time.Duration
	gauge   prometheus.Gauge
	timeouts,
	rejOp, rejKey, rejGlobal, rejGlobalKey prometheus.Counter
}

// inflightStage caps requests in flight at the upstream and bounds their
// duration. It runs innermost (an upstream tap), so a slot is held only
// while the upstream works on the request, and requests the gateway
// refuses anyway never take one.
type inflightStage struct {
	global     *inflightCap
	perKey     *keyedCap
	timeout    time.Duration
	status     int
	retryAfter string
	ops        map[string]*opInflight
	metrics    *inflightMetrics
}

// buildInFlight compiles rate_limits.concurrency into an upstream tap; it
// returns a nil middleware (the stage runs innermost, see upstreamTaps).
func (b *builder) buildInFlight(context.Context) (gatehouse.Middleware, error) {
	cc := b.cfg.RateLimits.Concurrency
	if cc == nil {
		return nil, nil
	}
	tp, err := httpx.ParseTrustedProxies(b.cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	ip := ratelimit.ClientIPFunc(tp.ClientIP)
	s := &inflightStage{timeout: cc.Timeout.D(), status: http.StatusServiceUnavailable, ops: map[string]*opInflight{}}
	if cc.Status == http.StatusTooManyRequests {
		s.status = cc.Status
	}
	ra := cc.RetryAfter.D()
	if ra <= 0 {
		ra = time.Second
	}
	s.retryAfter = strconv.FormatInt(max(int64((ra+time.Second-1)/time.Second), 1), 10)
	if cc.MaxInFlight > 0 {
		s.global = b.limits.inflightCap("global\x00"+strconv.Itoa(cc.MaxInFlight), int64(cc.MaxInFlight))
	}
	if s.perKey, err = newKeyedCap(cc.PerKey, ip, b.limits, ""); err != nil {
		return nil, config.AtPath("rate_limits.concurrency.per_key.key", err)
	}
	reg := b.metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if s.metrics, err = newInflightMetrics(reg); err != nil {
		return nil, err
	}
	for _, op := range b.spec.Operations {
		o := &opInflight{timeout: s.timeout}
		if oc, ok := cc.Operations[op.ID]; ok {
			if oc.MaxInFlight > 0 {
				o.cap = b.limits.inflightCap("op\x00"+op.ID+"\x00"+strconv.Itoa(oc.MaxInFlight), int64(oc.MaxInFlight))
			}
			if oc.Timeout > 0 {
				o.timeout = oc.Timeout.D()
			}
			if o.perKey, err = newKeyedCap(oc.PerKey, ip, b.limits, op.ID); err != nil {
				return nil, config.AtPath("rate_limits.concurrency.operations."+op.ID+".per_key.key", err)
			}
		}
		s.metrics.bind(o, op.ID)
		s.ops[op.ID] = o
	}
	for id := range cc.Operations {
		if _, ok := s.ops[id]; !ok {
			return nil, config.AtPath("rate_limits.concurrency.operations."+id, fmt.Errorf("operation %q is not in the spec", id))
		}
	}
	b.upstreamTaps = append(b.upstreamTaps, s.middleware)
	return nil, nil
}

func (s *inflightStage) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := gatehouse.RouteFrom(r.Context())
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		o := s.ops[rt.OperationID]
		if o == nil {
			next.ServeHTTP(w, r)
			return
		}
		// Narrowest first, so a client over its own cap never takes a
		// slot of the wider caps, even for an instant.
		okey, ok := o.perKey.acquire(r)
		if !ok {
			if s.reject(w, r, rt, o.rejKey, "operation per-key cap") {
				return
			}
		} else {
			defer o.perKey.release(okey)
		}
		if !o.cap.acquire() {
			if s.reject(w, r, rt, o.rejOp, "operation cap") {
				return
			}
		} else {
			defer o.cap.release()
		}
		gkey, ok := s.perKey.acquire(r)
		if !ok {
			if s.reject(w, r, rt, o.rejGlobalKey, "per-key cap") {
				return
			}
		} else {
			defer s.perKey.release(gkey)
		}
		if !s.global.acquire() {
			if s.reject(w, r, rt, o.rejGlobal, "global cap") {
				return
			}
		} else {
			defer s.global.release()
		}
		o.gauge.Inc()
		defer o.gauge.Dec()
		if o.timeout <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), o.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil {
			o.timeouts.Inc()
			gatehouse.RecordFrom(r.Context()).Set("upstream_timeout", o.timeout.String())
		}
	})
}

// reject answers a request over a cap (503 or 429 with Retry-After) and
// returns true; in monitor mode it only records and returns false, and the
// request goes on without that slot.
func (s *inflightStage) reject(w http.ResponseWriter, r *http.Request, rt *gatehouse.Route, c prometheus.Counter, reason string) bool {
	c.Inc()
	if !gatehouse.Decide(r.Context(), rt.Mode, "concurrency", reason) {
		return false
	}
	w.Header().Set("Retry-After", s.retryAfter)
	problem.Write(w, r, s.status)
	return true
}

type inflightMetrics struct {
	inflight *prometheus.GaugeVec
	rejected *prometheus.CounterVec
	timeouts *prometheus.CounterVec
}

func newInflightMetrics(reg prometheus.Registerer) (*inflightMetrics, error) {
	m := &inflightMetrics{
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_upstream_in_flight_requests",
			Help: "Requests at the upstream now, by operation (rate_limits.concurrency).",
		}, []string{"operation"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_upstream_rejected_requests_total",
			Help: "Requests refused because a concurrency cap was full, by operation and cap (operation, operation_key, key, global).",
		}, []string{"operation", "cap"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_upstream_timeouts_total",
			Help: "Upstream exchanges cut by rate_limits.concurrency timeouts, by operation.",
		}, []string{"operation"}),
	}
	var err error
	if m.inflight, err = rlRegister(reg, m.inflight); err != nil {
		return nil, err
	}
	if m.rejected, err = rlRegister(reg, m.rejected); err != nil {
		return nil, err
	}
	if m.timeouts, err = rlRegister(reg, m.timeouts); err != nil {
		return nil, err
	}
	return m, nil
}

// bind resolves o's metric series once, so a request pays no label lookup.
func (m *inflightMetrics) bind(o *opInflight, op string) {
	o.gauge = m.inflight.WithLabelValues(op)
	o.timeouts = m.timeouts.WithLabelValues(op)
	o.rejOp = m.rejected.WithLabelValues(op, "operation")
	o.rejKey = m.rejected.WithLabelValues(op, "operation_key")
	o.rejGlobalKey = m.rejected.WithLabelValues(op, "key")
	o.rejGlobal = m.rejected.WithLabelValues(op, "global")
}
