package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
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
}

// Client sends the scanner's requests. It is safe for concurrent use and
// enforces the budget, concurrency, rate and safe mode of ClientOptions.
type Client struct {
	opts ClientOptions
	hc   *http.Client
	sem  chan struct{}
	lim  *rate.Limiter
	used atomic.Int64

	mu       sync.Mutex
	coverage map[string]map[string]int // check ID → operation → requests

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
		sem:      make(chan struct{}, o.Concurrency),
		coverage: map[string]map[string]int{},
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

// Do sends r and reads the response (at most 1 MiB of body).
func (c *Client) Do(ctx context.Context, r *Request) (*Exchange, error) {
	if !c.Allowed(r.Method) {
		c.ext.mark(ctx, r.Op, CoverSkipped, "safe mode forbids "+r.Method)
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL, ErrUnsafe)
	}
	if err := c.ext.admit(ctx, r); err != nil {
		return nil, err
	}
	if n := c.used.Add(1); c.opts.Budget > 0 && n > int64(c.opts.Budget) {
		c.used.Add(-1)
		return nil, ErrBudget
	}
	if id, _ := ctx.Value(checkKey{}).(string); id != "" {
		c.mu.Lock()
		m := c.coverage[id]
		if m == nil {
			m = map[string]int{}
			c.coverage[id] = m
		}
		m[r.Op]++
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
