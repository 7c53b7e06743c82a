package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/problem"
)

// StoreErrorMode says what the middleware does when its Store fails.
type StoreErrorMode int

const (
	// OnErrorLocal falls back to a per-node MemoryStore: limits stay
	// enforced, but each node counts alone (N nodes allow up to N times the
	// limit) until the shared store is back.
	OnErrorLocal StoreErrorMode = iota
	// OnErrorAllow lets requests through unlimited (fail open).
	OnErrorAllow
	// OnErrorDeny rejects requests with 503 (fail closed).
	OnErrorDeny
)

// String returns the config word for m.
func (m StoreErrorMode) String() string {
	switch m {
	case OnErrorAllow:
		return "allow"
	case OnErrorDeny:
		return "deny"
	}
	return "local"
}

// ParseStoreErrorMode reads "local", "allow" or "deny".
func ParseStoreErrorMode(s string) (StoreErrorMode, error) {
	switch s {
	case "local", "":
		return OnErrorLocal, nil
	case "allow":
		return OnErrorAllow, nil
	case "deny":
		return OnErrorDeny, nil
	}
	return 0, fmt.Errorf("ratelimit: on_store_error %q: want local, allow or deny", s)
}

// Limit applies one Policy to the requests of some operations, keyed by Key.
type Limit struct {
	Policy *Policy
	// Operations restricts the limit to these operation IDs (empty: all).
	Operations []string
	Key        Key
}

// Observer receives decision counts (the gateway exports them as Prometheus
// counters). Implementations must be safe for concurrent use.
type Observer interface {
	// Decision counts one outcome ("allowed", "limited", "monitored",
	// "store_error", "key_error") of limit. "key_error" comes in addition
	// to the request's decision: its key could not be computed and it was
	// counted in the limit's error bucket.
	Decision(limit, outcome string)
	// StoreError counts one failed store call.
	StoreError()
}

// Options configure a Middleware.
type Options struct {
	Limits []Limit
	// Store holds the counters (nil: a new MemoryStore bounded by MaxKeys).
	Store Store
	// Lockouts holds login lockout state (nil: Store if it implements
	// LockoutStore, else the fallback MemoryStore).
	Lockouts LockoutStore
	// Fallback is the MemoryStore used when Store is nil and as the local
	// fallback of a failing shared store (nil: a new one bounded by
	// MaxKeys). Passing the same Fallback to the Middleware built on a
	// config reload keeps the counters and locks: each limit's state is
	// namespaced by its definition (name, rate, burst, key, operations;
	// the lockout by after_failures, base and max), so an unchanged limit
	// carries on where it was and a changed one starts fresh.
	Fallback *MemoryStore
	// OnStoreError chooses what happens while Store fails.
	OnStoreError StoreErrorMode
	// MaxKeys bounds the memory store and the local fallback.
	MaxKeys int
	// Backoff is how long the middleware stops calling a failed store
	// before trying it again (default 1s): requests meanwhile go straight to
	// the OnStoreError path, so an outage adds no per-request timeout, and
	// the first call after Backoff that succeeds restores normal operation.
	Backoff time.Duration
	// BackoffAfter is how many store calls in a row must fail before the
	// backoff opens (default 3). A failed call gets OnStoreError whatever
	// this is; the threshold keeps one slow reply (a read timeout under a
	// CPU spike) from sending every other request to OnStoreError too, which
	// with deny meant a second of 503s for everyone. Once the backoff has
	// opened, the first call after it that fails opens it again (as a
	// circuit breaker's half-open state does); a success resets the count.
	BackoffAfter int
	// Mode forces enforce or monitor; nil uses the matched route's mode.
	Mode *gatehouse.Mode
	// Login enables brute-force protection (nil: none).
	Login *Login
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives store errors (nil: discard).
	Logger *slog.Logger
	// Observer receives decision counts (nil: none).
	Observer Observer
	// ClientIP resolves the client address for Login.PerIP (nil: TCP peer).
	ClientIP ClientIPFunc
}

// Middleware enforces a set of limits: every limit that applies to a request
// is checked, all are charged only if all allow, and the strictest answer
// wins. It is safe for concurrent use; build it once with New.
type Middleware struct {
	limits   []Limit
	opsets   []map[string]bool
	store    Store
	fallback *MemoryStore
	locks    LockoutStore
	onErr    StoreErrorMode
	backoff  time.Duration
	mode     *gatehouse.Mode
	login    *Login
	loginOps map[string]bool
	loginPtr []string
	now      func() time.Time
	log      *slog.Logger
	obs      Observer
	loginIP  Key

	retryAt    atomic.Int64 // unix ns: skip the store until then
	after      int64        // failures in a row that open the backoff
	failures   atomic.Int64 // store calls failed in a row (-1: backoff opened, no success since)
	lastLog    atomic.Int64
	lastKeyLog atomic.Int64
}

type nopObserver struct{}

func (nopObserver) Decision(string, string) {}
func (nopObserver) StoreError()             {}

// New validates o and returns the middleware.
func New(o Options) (*Middleware, error) {
	m := &Middleware{store: o.Store, onErr: o.OnStoreError, backoff: o.Backoff, after: int64(o.BackoffAfter),
		mode: o.Mode, now: o.Now, log: o.Logger, obs: o.Observer}
	if m.after <= 0 {
		m.after = 3
	}
	m.loginIP = KeyIP(o.ClientIP)
	m.fallback = o.Fallback
	if m.fallback == nil {
		m.fallback = NewMemoryStore(MemoryOptions{MaxKeys: o.MaxKeys})
	}
	// Own copies: each limit's policy gets its whole definition as its
	// memory-store namespace (see Options.Fallback).
	m.limits = make([]Limit, len(o.Limits))
	for i, l := range o.Limits {
		if l.Policy != nil {
			pc := *l.Policy
			ops := slices.Clone(l.Operations)
			slices.Sort(ops)
			pc.def = l.Policy.storeName() + "\x00" + l.Key.def + "/" + l.Key.kind + "\x00" + strings.Join(ops, ",")
			l.Policy = &pc
		}
		m.limits[i] = l
	}
	if o.Login != nil {
		lg := *o.Login
		if lg.Lockout != nil {
			lo := *lg.Lockout
			lo.ns = lo.definition()
			lg.Lockout = &lo
		}
		m.login = &lg
	}
	if m.store == nil {
		m.store = m.fallback
	}
	m.locks = o.Lockouts
	if m.locks == nil {
		if ls, ok := m.store.(LockoutStore); ok {
			m.locks = ls
		} else {
			m.locks = m.fallback
		}
	}
	if m.backoff <= 0 {
		m.backoff = time.Second
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.obs == nil {
		m.obs = nopObserver{}
	}
	names := map[string]bool{}
	for i, l := range o.Limits {
		if l.Policy == nil || len(l.Key.parts) == 0 {
			return nil, fmt.Errorf("ratelimit: limit %d: policy and key are required", i)
		}
		if names[l.Policy.Name] {
			return nil, fmt.Errorf("ratelimit: duplicate limit name %q", l.Policy.Name)
		}
		names[l.Policy.Name] = true
		var set map[string]bool
		if len(l.Operations) > 0 {
			set = make(map[string]bool, len(l.Operations))
			for _, op := range l.Operations {
				set[op] = true
			}
		}
		m.opsets = append(m.opsets, set)
	}
	if lg := o.Login; lg != nil {
		if len(lg.Operations) == 0 {
			return nil, errors.New("ratelimit: login needs operations")
		}
		m.loginOps = make(map[string]bool)
		for _, op := range lg.Operations {
			m.loginOps[op] = true
		}
		if lg.AccountField != "" {
			p, err := parsePointer(lg.AccountField)
			if err != nil {
				return nil, err
			}
			m.loginPtr = p
		} else if lg.PerAccount != nil || lg.Lockout != nil {
			return nil, errors.New("ratelimit: login per_account and lockout need account_field")
		}
		for _, p := range []*Policy{lg.PerAccount, lg.PerIP} {
			if p != nil && names[p.Name] {
				return nil, fmt.Errorf("ratelimit: duplicate limit name %q", p.Name)
			}
		}
		if lg.Lockout != nil {
			if err := lg.Lockout.Validate(); err != nil {
				return nil, err
			}
		}
		if lg.FailureWhen != nil && lg.Lockout == nil {
			return nil, errors.New("ratelimit: login failure_when needs lockout")
		}
	}
	return m, nil
}

// Wrap is the gatehouse.Middleware: it rejects over-limit requests with 429.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next)
	})
}

// errDenyAll marks the OnErrorDeny path.
var errDenyAll = errors.New("ratelimit: store failed, on_store_error deny")

// take checks ops against the store, applying OnStoreError on failure.
// ok=false with err=nil means "let it pass unlimited" (OnErrorAllow).
func (m *Middleware) take(ctx context.Context, ops []Op, now time.Time, out []Decision) (ok bool, err error) {
	if m.store == Store(m.fallback) {
		return true, m.fallback.Take(ctx, ops, now, out)
	}
	if now.UnixNano() < m.retryAt.Load() {
		err = ErrStoreUnavailable
	} else {
		err = m.store.Take(ctx, ops, now, out)
	}
	if err == nil {
		m.storeOK()
		return true, nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The client hung up mid-call: not a store failure, so it neither
		// opens the backoff for every other request nor counts.
		return false, fmt.Errorf("%w: %w", errClientGone, err)
	}
	m.storeFailed(err, now)
	switch m.onErr {
	case OnErrorAllow:
		return false, nil
	case OnErrorDeny:
		return false, errDenyAll
	}
	return true, m.fallback.Take(ctx, ops, now, out)
}

// errClientGone marks a store call cut off by the client hanging up.
var errClientGone = errors.New("ratelimit: client gone")

// clientGone records the abandoned request as 499 (nothing is sent).
func clientGone(w http.ResponseWriter) { w.WriteHeader(httpx.StatusClientClosedRequest) }

func (m *Middleware) storeFailed(err error, now time.Time) {
	if errors.Is(err, ErrStoreUnavailable) && now.UnixNano() < m.retryAt.Load() {
		return // backing off: not a new failure
	}
	m.obs.StoreError()
	ns := now.UnixNano()
	if n := m.failures.Load(); n >= 0 {
		if n = m.failures.Add(1); n < m.after {
			if last := m.lastLog.Load(); ns-last >= int64(m.backoff) && m.lastLog.CompareAndSwap(last, ns) {
				m.log.Warn("rate-limit store call failed", "on_store_error", m.onErr.String(),
					"failures_in_a_row", n, "backoff_after", m.after, "err", err)
			}
			return
		}
	}
	m.failures.Store(-1)
	m.retryAt.Store(ns + int64(m.backoff))
	if last := m.lastLog.Load(); ns-last >= int64(m.backoff) && m.lastLog.CompareAndSwap(last, ns) {
		m.log.Warn("rate-limit store failed", "on_store_error", m.onErr.String(), "retry_in", m.backoff, "err", err)
	}
}

// storeOK records a store call that answered: the failures in a row start
// again from zero (a Load first, so the hot path does not write a shared
// cache line on every request).
func (m *Middleware) storeOK() {
	if m.failures.Load() != 0 {
		m.failures.Store(0)
	}
}

// keyFailed handles a key that could not be computed (a CEL expression
// failed): the request is counted in the limit's fixed error bucket (the
// key already holds it), the record and metric say so, and the log gets at
// most one line per Backoff, since a client can cause these at will.
func (m *Middleware) keyFailed(ctx context.Context, limit string, err error, now time.Time) {
	m.obs.Decision(limit, "key_error")
	gatehouse.RecordFrom(ctx).Set("ratelimit_key_error", limit)
	ns := now.UnixNano()
	if last := m.lastKeyLog.Load(); ns-last >= int64(m.backoff) && m.lastKeyLog.CompareAndSwap(last, ns) {
		m.log.Warn("rate-limit key failed; request counted in the limit's error bucket", "limit", limit, "err", err)
	}
}

// locked returns the lock remaining for account, applying OnStoreError.
func (m *Middleware) locked(ctx context.Context, acct string, now time.Time) (time.Duration, error) {
	p := m.login.Lockout
	if m.locks == LockoutStore(m.fallback) {
		return m.fallback.Locked(ctx, p, acct, now)
	}
	var d time.Duration
	err := ErrStoreUnavailable
	if now.UnixNano() >= m.retryAt.Load() {
		d, err = m.locks.Locked(ctx, p, acct, now)
	}
	if err == nil {
		m.storeOK()
		return d, nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return 0, fmt.Errorf("%w: %w", errClientGone, err)
	}
	m.storeFailed(err, now)
	switch m.onErr {
	case OnErrorAllow:
		return 0, nil
	case OnErrorDeny:
		return 0, errDenyAll
	}
	return m.fallback.Locked(ctx, p, acct, now)
}

// outcome is what a login's answer means for the account's lockout.
type outcome int

const (
	outcomeNone    outcome = iota // neither: leaves the count alone
	outcomeFailure                // counts a failure
	outcomeSuccess                // resets the count
)

func (m *Middleware) lockFeedback(ctx context.Context, acct string, o outcome, now time.Time) {
	if o == outcomeNone {
		return
	}
	p := m.login.Lockout
	ls := m.locks
	if ls != LockoutStore(m.fallback) && now.UnixNano() < m.retryAt.Load() {
		if m.onErr != OnErrorLocal {
			return
		}
		ls = m.fallback
	}
	var err error
	if o == outcomeFailure {
		var lock time.Duration
		lock, err = ls.Failure(ctx, p, acct, now)
		if err == nil && lock > 0 {
			gatehouse.RecordFrom(ctx).Set("ratelimit_lockout", lock.String())
		}
	} else {
		err = ls.Success(ctx, p, acct)
	}
	if err == nil && ls != LockoutStore(m.fallback) {
		m.storeOK()
	}
	if err != nil {
		m.storeFailed(err, now)
		if m.onErr == OnErrorLocal {
			if o == outcomeFailure {
				_, _ = m.fallback.Failure(ctx, p, acct, now)
			} else {
				_ = m.fallback.Success(ctx, p, acct)
			}
		}
	}
}

func (m *Middleware) modeFor(rt *gatehouse.Route) gatehouse.Mode {
	if m.mode != nil {
		return *m.mode
	}
	if rt != nil {
		return rt.Mode
	}
	return gatehouse.Enforce
}

type opInfo struct {
	name, kind string
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ctx := r.Context()
	now := m.now()
	rt := gatehouse.RouteFrom(ctx)
	opID := ""
	if rt != nil {
		opID = rt.OperationID
	}
	mode := m.modeFor(rt)

	var opb [8]Op
	var infb [8]opInfo
	ops, infos := opb[:0], infb[:0]
	var kb [256]byte
	for i, l := range m.limits {
		if set := m.opsets[i]; set != nil && !set[opID] {
			continue
		}
		kbuf, kerr := l.Key.AppendErr(kb[:0], r)
		if kerr != nil {
			m.keyFailed(ctx, l.Policy.Name, kerr, now)
		}
		ops = append(ops, Op{Policy: l.Policy, Key: string(kbuf)})
		infos = append(infos, opInfo{l.Policy.Name, l.Key.kind})
	}
	var accts []string
	isLogin := m.login != nil && m.loginOps[opID]
	if isLogin {
		if m.loginPtr != nil {
			a, err := account(r, m.loginPtr, !m.login.ExactAccountField, m.login.MaxBody, m.login.JSONLimits)
			if err != nil {
				// No shared "no account" bucket: a login the limiter
				// cannot attribute is refused (monitor: charged to the
				// empty account, as a record of what would be refused).
				m.obs.Decision("login-account", "refused")
				if gatehouse.Decide(ctx, mode, "ratelimit", accountReason(err)) {
					problem.Write(w, r, accountStatus(err))
					return
				}
			}
			accts = []string{a}
		}
		if p := m.login.PerIP; p != nil {
			ops = append(ops, Op{Policy: p, Key: string(m.loginIP.Append(kb[:0], r))})
			infos = append(infos, opInfo{p.Name, "ip"})
		}
		if p := m.login.PerAccount; p != nil {
			for _, a := range accts {
				ops = append(ops, Op{Policy: p, Key: a})
				infos = append(infos, opInfo{p.Name, "account"})
			}
		}
		if m.login.Lockout != nil {
			for _, a := range accts {
				lock, err := m.locked(ctx, a, now)
				if errors.Is(err, errClientGone) {
					clientGone(w)
					return
				}
				if err != nil {
					m.deny503(w, r)
					return
				}
				if lock > 0 {
					m.obs.Decision("lockout", "limited")
					if gatehouse.Decide(ctx, mode, "ratelimit", "lockout account") {
						w.Header().Set("Retry-After", ceilSeconds(lock))
						problem.Write(w, r, http.StatusTooManyRequests)
						return
					}
					m.obs.Decision("lockout", "monitored")
				}
			}
		}
	}
	if m.checkLimits(w, r, ops, infos, now, mode) {
		m.forward(w, r, next, isLogin, accts, now)
	}
}

// checkLimits returns false when it has written a rejection.
func (m *Middleware) checkLimits(w http.ResponseWriter, r *http.Request, ops []Op, infos []opInfo, now time.Time, mode gatehouse.Mode) bool {
	if len(ops) == 0 {
		return true
	}
	ctx := r.Context()
	var db [8]Decision
	var out []Decision
	if len(ops) > len(db) {
		out = make([]Decision, len(ops))
	} else {
		out = db[:len(ops)]
	}
	ok, err := m.take(ctx, ops, now, out)
	if errors.Is(err, errClientGone) {
		clientGone(w)
		return false
	}
	if err != nil {
		for _, in := range infos {
			m.obs.Decision(in.name, "store_error")
		}
		if errors.Is(err, errDenyAll) {
			m.deny503(w, r)
			return false
		}
		// A local memory store cannot fail; treat any other error as allow.
		return true
	}
	if !ok { // OnErrorAllow
		for _, in := range infos {
			m.obs.Decision(in.name, "store_error")
		}
		return true
	}
	worst := -1
	for i, d := range out {
		if !d.Allowed && (worst < 0 || out[worst].Allowed || d.RetryAfter > out[worst].RetryAfter) {
			worst = i
		}
	}
	if worst >= 0 {
		in := infos[worst]
		if gatehouse.Decide(ctx, mode, "ratelimit", "limit "+in.name+" key "+in.kind) {
			for i, d := range out {
				if !d.Allowed {
					m.obs.Decision(infos[i].name, "limited")
				}
			}
			d := out[worst]
			h := w.Header()
			h.Set("Retry-After", ceilSeconds(d.RetryAfter))
			setHeaders(h, ops[worst].Policy, d)
			problem.Write(w, r, http.StatusTooManyRequests)
			return false
		}
		for i, d := range out {
			if !d.Allowed {
				m.obs.Decision(infos[i].name, "monitored")
			}
		}
		return true
	}
	// Allowed: describe the most restrictive limit (fewest remaining).
	best := 0
	for i, d := range out {
		m.obs.Decision(infos[i].name, "allowed")
		if b := out[best]; d.Remaining < b.Remaining || (d.Remaining == b.Remaining && d.ResetAfter > b.ResetAfter) {
			best = i
		}
	}
	setHeaders(w.Header(), ops[best].Policy, out[best])
	return true
}

func (m *Middleware) forward(w http.ResponseWriter, r *http.Request, next http.Handler, isLogin bool, accts []string, now time.Time) {
	if !isLogin || m.login.Lockout == nil || len(accts) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	// The upstream's answer is seen by an httptrace hook on the request
	// context, which the proxy's transport fires when the upstream's first
	// response byte arrives: out of band, so nothing in a response (a
	// problem+json body, gatehouse-like headers) can fake it or hide it.
	var reached atomic.Bool
	ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotFirstResponseByte: func() { reached.Store(true) },
	})
	sw := &httpx.StatusWriter{ResponseWriter: w}
	var resp *loginResponse
	var out http.ResponseWriter = sw
	if fw := m.login.FailureWhen; fw != nil {
		// The failure condition reads the upstream's answer: recorded by
		// UpstreamTap when the gateway put it in front of the upstream,
		// else by this writer; either passes every byte through unchanged.
		resp = &loginResponse{}
		ctx = withLoginResponse(ctx, resp)
		out = &captureWriter{ResponseWriter: sw, c: resp, outer: true, headers: fw.headers, body: fw.body}
	}
	next.ServeHTTP(out, r.WithContext(ctx))
	status := sw.Status
	if status == 0 {
		status = http.StatusOK
	}
	rec := gatehouse.RecordFrom(r.Context())
	f := lockFeedbackFor(rec.Snapshot().Stage, reached.Load())
	var o outcome
	switch {
	case f == feedbackNone:
		if status == http.StatusUnauthorized || status == http.StatusForbidden || resp != nil {
			rec.Set("lockout_not_counted", "gatehouse_response")
		}
		return
	case f == feedbackFailure:
		o = outcomeFailure
	case resp != nil:
		if resp.status == 0 {
			resp.status = status
		}
		failed, err := m.login.FailureWhen.failed(resp)
		if err != nil {
			rec.Set("lockout_failure_when_error", "counted as failure")
		}
		switch {
		case failed:
			o = outcomeFailure
		case resp.status >= 200 && resp.status < 300:
			o = outcomeSuccess
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		o = outcomeFailure
	case status >= 200 && status < 300:
		o = outcomeSuccess
	}
	// Lock durations start at the attempt's instant.
	for _, a := range accts {
		m.lockFeedback(r.Context(), a, o, now)
	}
}

type feedback int

const (
	feedbackNone    feedback = iota // not an upstream answer: counts neither way
	feedbackStatus                  // the upstream's status: 401/403 fail, 2xx reset
	feedbackFailure                 // the upstream answered but a later stage withheld it
)

// lockFeedbackFor decides what a login response means for the lockout.
// Only the upstream's answers count. blockedBy is the stage that blocked the
// request after the rate limiter (gatehouse.Record.Stage), reached whether
// the upstream sent a response.
//
//   - Nothing blocked: every stage let the upstream's status through (the
//     response filter may strip fields but keeps the status), so it counts.
//   - Blocked before the upstream (authz, WAF, request validation...): the
//     401/403 is gatehouse's own and must not count, or an attacker could
//     lock a victim out with requests gatehouse rejects anyway.
//   - Blocked after the upstream answered (the response filter or an authz
//     response check withheld it): the upstream's status is unknown, and
//     counting it as a failure keeps an attacker from hiding failed logins
//     behind responses the filter rejects; it never resets the count.
func lockFeedbackFor(blockedBy string, reached bool) feedback {
	switch {
	case blockedBy == "":
		return feedbackStatus
	case reached:
		return feedbackFailure
	}
	return feedbackNone
}

func (m *Middleware) deny503(w http.ResponseWriter, r *http.Request) {
	gatehouse.RecordFrom(r.Context()).Block("ratelimit", "store unavailable")
	w.Header().Set("Retry-After", ceilSeconds(m.backoff))
	problem.Write(w, r, http.StatusServiceUnavailable)
}

// ceilSeconds renders d as whole seconds, rounded up, at least 1.
func ceilSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// setHeaders writes the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers-10, structured-field lists):
//
//	RateLimit-Policy: "per-user";q=100;w=1
//	RateLimit: "per-user";r=0;t=1
//
// q is the rate's count and w its period in seconds; r is the remaining
// burst and t the seconds until it is full again (for a refused request:
// until the next request is allowed).
func setHeaders(h http.Header, p *Policy, d Decision) {
	w := max(int64((p.Rate.Per+time.Second-1)/time.Second), 1)
	// Direct map writes: the keys are already canonical ("Ratelimit-Policy").
	h["Ratelimit-Policy"] = []string{`"` + p.Name + `";q=` + strconv.Itoa(p.Rate.Count) + ";w=" + strconv.FormatInt(w, 10)}
	t := d.ResetAfter
	if !d.Allowed {
		t = d.RetryAfter
	}
	ts := int64((t + time.Second - 1) / time.Second)
	h["Ratelimit"] = []string{`"` + p.Name + `";r=` + strconv.Itoa(max(d.Remaining, 0)) + ";t=" + strconv.FormatInt(ts, 10)}
}

// Names lists the limit names in m (for metrics pre-registration).
func (m *Middleware) Names() []string {
	var n []string
	for _, l := range m.limits {
		n = append(n, l.Policy.Name)
	}
	if m.login != nil {
		for _, p := range []*Policy{m.login.PerIP, m.login.PerAccount} {
			if p != nil {
				n = append(n, p.Name)
			}
		}
	}
	return slices.Clip(n)
}
