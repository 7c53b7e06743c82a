package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// TargetDownMeta describes the finding Run reports when the target stops
// answering in the middle of a scan: the requests sent just before are
// what killed it (a crash on malformed input, a request that exhausts it).
var TargetDownMeta = Meta{
	ID: "GH2070", Title: "Denial of service: the target stopped answering during the scan", Category: "dos",
	Severity: High, OWASP: API4Resource, CWE: "CWE-400",
	Description: "The API stopped accepting connections or answering after one of the scan's requests: one ordinary client can take it down for everyone.",
	Remediation: "Find the request in the evidence that crashed or exhausted the service (its curl command reproduces it); handle malformed input with a 4xx instead of an unhandled exception, bound the work per request, and run the service under a supervisor that restarts it.",
	Fix:         "request: { validate: true, max_body: 1MiB, max_depth: 32 }   # malformed or oversized bodies are refused at the gateway",
}

// Outage is one period in which the target stopped answering.
type Outage struct {
	// Trigger is the first request whose connection failed.
	Trigger *Request
	Err     string
	// Recent are the last requests sent before the failure, oldest first,
	// with their status (0 = no answer).
	Recent []Sent
	Down   time.Time
	// Back is when the target answered again (zero: it did not, within
	// the wait).
	Back   time.Time
	Probes int
}

// Sent is a request the Client sent and what came of it.
type Sent struct {
	Request *Request
	Status  int    // 0: no answer
	Err     string // transport error
	Check   string
	// Refused: the connection was refused, so the request never reached
	// the target (it cannot be what killed it).
	Refused bool
}

const recentMax = 6

// health watches the target between requests: a connection failure makes
// it probe the target; when the probe fails too, the target is down, every
// request waits until a probe with backoff gets an answer again, for at
// most wait in all, then fails with ErrTargetDown.
type health struct {
	probe func(ctx context.Context) error
	wait  time.Duration
	sleep func(ctx context.Context, d time.Duration) error
	ctx   context.Context // the scan's: recovery probes stop with it

	mu      sync.Mutex
	down    bool
	gaveUp  bool
	upCh    chan struct{}
	outages []*Outage
	probes  int
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connFailure reports whether err means the target may be gone (refused,
// reset, closed without an answer, timed out), not a problem of the request.
func connFailure(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitUp blocks while the target is down; it fails when the wait ran out.
func (h *health) waitUp(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	if !h.down {
		h.mu.Unlock()
		return nil
	}
	if h.gaveUp {
		h.mu.Unlock()
		return fmt.Errorf("%w: it stopped answering and did not come back within %s", ErrTargetDown, h.wait)
	}
	ch := h.upCh
	h.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return fmt.Errorf("%w: it stopped answering and did not come back within %s", ErrTargetDown, h.wait)
	}
	return nil
}

// failed is called when r's connection failed with err. It reports
// whether the target is down (a probe gets no answer either).
func (h *health) failed(ctx context.Context, r *Request, err error, recent []Sent) bool {
	h.mu.Lock()
	if h.down {
		h.mu.Unlock()
		return true
	}
	h.mu.Unlock()
	if h.probe(ctx) == nil {
		h.count()
		return false // one failed request, the target still answers
	}
	h.count()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return true
	}
	// The trigger is the oldest recent request that reached the target and
	// got no answer; r itself when there is none (it may have been refused
	// because another one killed the target a moment before).
	trigger, msg := r, err.Error()
	for _, s := range recent {
		if s.Err != "" && !s.Refused {
			trigger, msg = s.Request, s.Err
			break
		}
	}
	o := &Outage{Trigger: trigger, Err: msg, Recent: recent, Down: time.Now(), Probes: 1}
	h.down, h.upCh = true, make(chan struct{})
	h.outages = append(h.outages, o)
	go h.recover(o, h.upCh)
	return true
}

func (h *health) count() {
	h.mu.Lock()
	h.probes++
	h.mu.Unlock()
}

// recover probes with exponential backoff (50ms doubling, at most 2s
// apart) until the target answers or wait is spent.
func (h *health) recover(o *Outage, up chan struct{}) {
	ctx := h.ctx
	deadline := time.Now().Add(h.wait)
	d := 50 * time.Millisecond
	for {
		if time.Now().Add(d).After(deadline) {
			d = time.Until(deadline)
		}
		if d <= 0 || h.sleep(ctx, d) != nil {
			break
		}
		err := h.probe(ctx)
		h.mu.Lock()
		o.Probes++
		h.probes++
		h.mu.Unlock()
		if err == nil {
			h.mu.Lock()
			h.down = false
			o.Back = time.Now()
			h.mu.Unlock()
			close(up)
			return
		}
		d = min(2*d, 2*time.Second)
	}
	h.mu.Lock()
	h.gaveUp = true
	h.mu.Unlock()
	close(up)
}

// Outages returns the outages seen so far.
func (h *health) snapshot() ([]Outage, int) {
	if h == nil {
		return nil, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Outage, len(h.outages))
	for i, o := range h.outages {
		out[i] = *o
	}
	return out, h.probes
}

// newProbe returns a probe: GET on the target's base URL; any HTTP answer
// (whatever its status) means the target is up.
func newProbe(tr http.RoundTripper, base string) func(ctx context.Context) error {
	if tr == nil {
		tr = http.DefaultTransport
	}
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "gatehouse-scan (health probe)")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
