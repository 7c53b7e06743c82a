package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Errors returned by Client.Do. They are expected outcomes: checks skip the
// request (ErrUnsafe) or stop (ErrBudget).
var (
	// ErrBudget: the request budget of the scan is spent.
	ErrBudget = errors.New("scan: request budget exhausted")
	// ErrUnsafe: safe mode forbids this method.
	ErrUnsafe = errors.New("scan: method not allowed in safe mode")
)

// maxBody bounds how much of each response is read and kept.
const maxBody = 1 << 20

// Request is one HTTP request the scanner sends. Operation and Identity are
// labels for evidence and coverage; they do not change what is sent.
type Request struct {
	Method   string
	URL      string
	Header   http.Header
	Body     []byte
	Op       string // operation ID, "" for target-wide requests
	Identity string // identity name, "" for anonymous

	// ownAccount: the cleanup deleting an account the scan registered,
	// logged in as that account; the damage guard's at-most-once for
	// destructive operations does not count it (exclusions still apply).
	ownAccount bool
}

// Exchange is a request and the response it got. Body holds at most 1 MiB.
type Exchange struct {
	Request  *Request
	Status   int
	Header   http.Header
	Body     []byte
	Duration time.Duration
}

// OK reports whether the status is 2xx.
func (e *Exchange) OK() bool { return e != nil && e.Status >= 200 && e.Status < 300 }

// ClientOptions protect the target.
type ClientOptions struct {
	// Budget is the maximum number of requests (0 = unlimited).
	Budget int
	// Concurrency is the maximum number of requests in flight (0 = 4).
	Concurrency int
	// Rate is the maximum requests per second (0 = unlimited).
	Rate float64
	// Safe forbids DELETE, PUT and PATCH unless listed in AllowMethods.
	Safe         bool
	AllowMethods []string
	// Timeout bounds each request (0 = 10s).
	Timeout time.Duration
	// Transport is used instead of http.DefaultTransport (tests).
	Transport http.RoundTripper
	// ThrottleWait bounds how long one request waits, in all, for a rate
	// limit to clear: an answer 429, or 503 with Retry-After, is resent
	// after its Retry-After (at most twice) while the waits fit in it
	// (0 = 10s, negative = never resend). An answer still throttled is
	// counted against the operation's coverage (see OpCoverage.Throttled).
	ThrottleWait time.Duration
	// ThrottleBudget bounds the waiting of the whole scan: once the waits
	// add up to it, throttled answers are no longer resent (0 = 2m,
	// negative = no bound). A target that throttles everything would
	// otherwise stretch the scan to ThrottleWait per probe.
	ThrottleBudget time.Duration
}

// Client sends the scanner's requests. It is safe for concurrent use and
// enforces the budget, concurrency, rate and safe mode of ClientOptions.
type Client struct {
	opts ClientOptions
	hc   *http.Client
	sem  chan struct{}
	lim  *rate.Limiter
	used atomic.Int64

	mu        sync.Mutex
	coverage  map[string]map[string]int // check ID → operation → requests
	calls     map[string]map[string]int // check ID → operation → Do calls that got an answer
	throttled map[string]map[string]int // … of which the last answer was still throttled
	waited    atomic.Int64              // nanoseconds spent waiting for rate limits

	ext clientExt // damage guard, target health, coverage marks (runner.go)
}

// NewClient returns a Client. Redirects are not followed: a 302 to a login
// page is an answer, not something to chase.
func NewClient(o ClientOptions) *Client {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	c := &Client{
		opts: o,
		hc: &http.Client{Transport: tr, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		sem:       make(chan struct{}, o.Concurrency),
		coverage:  map[string]map[string]int{},
		calls:     map[string]map[string]int{},
		throttled: map[string]map[string]int{},
	}
	if o.ThrottleWait == 0 {
		c.opts.ThrottleWait = 10 * time.Second
	}
	if o.ThrottleBudget == 0 {
		c.opts.ThrottleBudget = 2 * time.Minute
	}
	if o.Rate > 0 {
		c.lim = rate.NewLimiter(rate.Limit(o.Rate), max(1, int(o.Rate)))
	}
	return c
}

// Rate returns the requests-per-second cap (0 = none).
func (c *Client) Rate() float64 { return c.opts.Rate }

// Remaining returns how many requests the budget still allows (-1 =
// unlimited).
func (c *Client) Remaining() int {
	if c.opts.Budget <= 0 {
		return -1
	}
	return max(c.opts.Budget-c.Used(), 0)
}

// Used returns the number of requests sent so far.
func (c *Client) Used() int { return int(c.used.Load()) }

// Safe reports whether the Client runs in safe mode.
func (c *Client) Safe() bool { return c.opts.Safe }

// Allowed reports whether safe mode lets method through.
func (c *Client) Allowed(method string) bool {
	if !c.opts.Safe {
		return true
	}
	switch strings.ToUpper(method) {
	case http.MethodDelete, http.MethodPut, http.MethodPatch:
		for _, m := range c.opts.AllowMethods {
			if strings.EqualFold(m, method) {
				return true
			}
		}
		return false
	}
	return true
}

type checkKey struct{}

// WithCheck labels ctx so that requests sent with it count towards the
// coverage of check id.
func WithCheck(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, checkKey{}, id)
}

// Coverage returns the operations a check sent requests for and how many.
func (c *Client) Coverage(checkID string) (ops []string, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for op, n := range c.coverage[checkID] {
		ops = append(ops, op)
		requests += n
	}
	sort.Strings(ops)
	return ops, requests
}

// Do sends r and reads the response (at most 1 MiB of body). An answer
// that says the target is rate limiting (429, or 503 with Retry-After) is
// resent after the wait it asks for, within ClientOptions.ThrottleWait,
// unless ctx comes from KeepThrottled; Exchange.Duration is the last
// attempt's.
func (c *Client) Do(ctx context.Context, r *Request) (*Exchange, error) {
	if !c.Allowed(r.Method) {
		c.ext.mark(ctx, r.Op, CoverSkipped, "safe mode forbids "+r.Method)
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL, ErrUnsafe)
	}
	keep := keepsThrottled(ctx)
	var (
		waited time.Duration
		last   *Exchange
	)
	for attempt := 0; ; attempt++ {
		ex, err := c.do(ctx, r)
		if err != nil && last != nil && (errors.Is(err, ErrGuarded) || errors.Is(err, ErrBudget)) {
			// A destructive operation is sent at most once, and the budget
			// is the budget: the throttled answer stands.
			c.count(ctx, r.Op, true)
			return last, nil
		}
		if err != nil {
			return nil, err
		}
		last = ex
		d, throttled := throttleWait(ex, attempt)
		if !throttled || keep {
			c.count(ctx, r.Op, false)
			return ex, nil
		}
		if attempt >= maxThrottleRetries || c.opts.ThrottleWait < 0 || waited+d > c.opts.ThrottleWait || !c.spendWait(d) {
			c.count(ctx, r.Op, true)
			return ex, nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		waited += d
	}
}

// spendWait takes d from the scan's waiting budget, or reports that it
// would go over it.
func (c *Client) spendWait(d time.Duration) bool {
	if c.opts.ThrottleBudget < 0 {
		c.waited.Add(int64(d))
		return true
	}
	for {
		w := c.waited.Load()
		if time.Duration(w)+d > c.opts.ThrottleBudget {
			return false
		}
		if c.waited.CompareAndSwap(w, w+int64(d)) {
			return true
		}
	}
}

// maxThrottleRetries is how many times Do resends a throttled request.
const maxThrottleRetries = 2

// count records one answered Do call of the check in ctx for op, and
// whether its last answer was still throttled.
func (c *Client) count(ctx context.Context, op string, throttled bool) {
	id, _ := ctx.Value(checkKey{}).(string)
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	bump(c.calls, id, op)
	if throttled {
		bump(c.throttled, id, op)
	}
}

func bump(m map[string]map[string]int, k1, k2 string) {
	n := m[k1]
	if n == nil {
		n = map[string]int{}
		m[k1] = n
	}
	n[k2]++
}

// ThrottleWaited returns the time the scan spent waiting for the target's
// rate limits to clear.
func (c *Client) ThrottleWaited() time.Duration { return time.Duration(c.waited.Load()) }

type keepThrottledKey struct{}

// KeepThrottled returns a ctx whose requests get a rate-limited answer
// as it is: for checks that measure the rate limit itself (a burst that
// expects 429) or that must not repeat a request (logins that count
// towards a lockout). Their 429s do not count against coverage.
func KeepThrottled(ctx context.Context) context.Context {
	return context.WithValue(ctx, keepThrottledKey{}, true)
}

func keepsThrottled(ctx context.Context) bool {
	v, _ := ctx.Value(keepThrottledKey{}).(bool)
	return v
}

// Throttled reports whether ex says the target is rate limiting: 429, or
// 503 with a Retry-After header (a server over capacity that says when to
// come back; a 503 without it is an error, judged by the checks).
func Throttled(ex *Exchange) bool {
	if ex == nil {
		return false
	}
	return ex.Status == http.StatusTooManyRequests ||
		(ex.Status == http.StatusServiceUnavailable && ex.Header.Get("Retry-After") != "")
}

// throttleWait reports whether ex is throttled and how long to wait before
// attempt+1: Retry-After (seconds or an HTTP date), else the IETF
// RateLimit reset ("t=" of RateLimit, or RateLimit-Reset), else 1s, 2s.
// A wait under 100ms becomes 100ms.
func throttleWait(ex *Exchange, attempt int) (time.Duration, bool) {
	if !Throttled(ex) {
		return 0, false
	}
	d := time.Duration(1<<attempt) * time.Second
	if v, ok := retryAfter(ex.Header, time.Now()); ok {
		d = v
	}
	return max(d, 100*time.Millisecond), true
}

// retryAfter reads when a throttled answer says to come back.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if v := h.Get("RateLimit"); v != "" {
		for _, part := range strings.Split(v, ";") {
			if k, n, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "t" {
				if s, err := strconv.Atoi(n); err == nil && s >= 0 {
					return time.Duration(s) * time.Second, true
				}
			}
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
	}
	return 0, false
}

// do sends r once.
func (c *Client) do(ctx context.Context, r *Request) (*Exchange, error) {
	if err := c.ext.admit(ctx, r); err != nil {
		return nil, err
	}
	if n := c.used.Add(1); c.opts.Budget > 0 && n > int64(c.opts.Budget) {
		c.used.Add(-1)
		return nil, ErrBudget
	}
	if id, _ := ctx.Value(checkKey{}).(string); id != "" {
		c.mu.Lock()
		bump(c.coverage, id, r.Op)
		c.mu.Unlock()
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.lim != nil {
		if err := c.lim.Wait(ctx); err != nil {
			return nil, err
		}
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", r.Method, r.URL, err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gatehouse-scan")
	}
	start := time.Now()
	resp, err := c.ext.send(ctx, c.hc, req, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read response of %s %s: %w", r.Method, r.URL, err)
	}
	return &Exchange{Request: r, Status: resp.StatusCode, Header: resp.Header, Body: b, Duration: time.Since(start)}, nil
}
