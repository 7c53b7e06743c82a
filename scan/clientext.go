package scan

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// Coverage statuses of one operation for one check.
const (
	CoverTested        = "tested"
	CoverSkipped       = "skipped"
	CoverNotRun        = "not_run"
	CoverNotApplicable = "not_applicable"
)

// clientExt holds what Run installs on the Client: the damage guard, the
// target health watch, and the coverage marks. Its zero value does nothing.
type clientExt struct {
	mu     sync.Mutex
	guard  *guard
	health *health
	marks  map[string]map[string]opMark // check ID → operation → mark
	recent []Sent
}

type opMark struct {
	status, reason string
}

func (e *clientExt) install(g *guard, h *health) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.guard, e.health = g, h
}

func (e *clientExt) parts() (*guard, *health) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.guard, e.health
}

// mark records the coverage of operation op for the check labelled in ctx.
// A tested mark is never downgraded; a skip or not-run reason keeps the
// first one given.
func (e *clientExt) mark(ctx context.Context, op, status, reason string) {
	check, _ := ctx.Value(checkKey{}).(string)
	if check == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.marks == nil {
		e.marks = map[string]map[string]opMark{}
	}
	m := e.marks[check]
	if m == nil {
		m = map[string]opMark{}
		e.marks[check] = m
	}
	old, ok := m[op]
	switch {
	case !ok, status == CoverTested && old.status != CoverTested:
		m[op] = opMark{status, reason}
	case old.status == CoverNotApplicable && status != CoverNotApplicable:
		m[op] = opMark{status, reason}
	}
}

func (e *clientExt) marksOf(check string) map[string]opMark {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]opMark{}
	for k, v := range e.marks[check] {
		out[k] = v
	}
	return out
}

// admit runs the guard on r.
func (e *clientExt) admit(ctx context.Context, r *Request) error {
	g, h := e.parts()
	if g != nil {
		if err := g.check(r); err != nil {
			e.mark(ctx, g.opOf(r), CoverSkipped, guardReason(err))
			return err
		}
	}
	if h != nil {
		if err := h.waitUp(ctx); err != nil {
			e.mark(ctx, r.Op, CoverNotRun, "target down")
			return err
		}
	}
	return nil
}

// guardReason is the part of a guard error after ErrGuarded's text.
func guardReason(err error) string {
	s := err.Error()
	if i := len(ErrGuarded.Error()); i > 0 {
		for j := 0; j+i <= len(s); j++ {
			if s[j:j+i] == ErrGuarded.Error() {
				rest := s[j+i:]
				if len(rest) > 2 && rest[:2] == ": " {
					rest = rest[2:]
				}
				return rest
			}
		}
	}
	return s
}

func (e *clientExt) remember(ctx context.Context, r *Request, status int, err error) {
	check, _ := ctx.Value(checkKey{}).(string)
	s := Sent{Request: r, Status: status, Check: check}
	if err != nil {
		s.Err, s.Refused = err.Error(), isRefused(err)
	}
	e.mu.Lock()
	e.recent = append(e.recent, s)
	if len(e.recent) > recentMax {
		e.recent = append([]Sent(nil), e.recent[len(e.recent)-recentMax:]...)
	}
	e.mu.Unlock()
}

func (e *clientExt) recentCopy() []Sent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Sent(nil), e.recent...)
}

// send sends req, waiting first while the target is down. When the
// connection fails and a probe confirms the target is down, the request
// fails; it is resent once after the target came back only when its
// connection was refused (it never reached the target, so it cannot be
// what killed it).
func (e *clientExt) send(ctx context.Context, hc *http.Client, req *http.Request, r *Request) (*http.Response, error) {
	_, h := e.parts()
	for attempt := 0; ; attempt++ {
		if err := h.waitUp(ctx); err != nil {
			e.mark(ctx, r.Op, CoverNotRun, "target down")
			return nil, err
		}
		if attempt > 0 {
			req = req.Clone(ctx)
			if req.GetBody != nil {
				req.Body, _ = req.GetBody()
			}
		}
		resp, err := hc.Do(req)
		if err == nil {
			e.remember(ctx, r, resp.StatusCode, nil)
			return resp, nil
		}
		e.remember(ctx, r, 0, err)
		if h == nil || ctx.Err() != nil || !connFailure(err) {
			return nil, err
		}
		if !h.failed(ctx, r, err, e.recentCopy()) {
			return nil, err
		}
		if attempt > 0 || !refused(err) {
			return nil, err
		}
	}
}

func refused(err error) bool { return isRefused(err) }

// MarkCoverage records, for the check labelled in ctx (WithCheck), that
// operation opID was tested without a request of its own (an offline
// test), skipped for reason, or is not applicable to the check. Checks call
// it so that the coverage report can tell "0 findings" from "not tested".
func (t *Target) MarkCoverage(ctx context.Context, opID, status, reason string) {
	t.Client.ext.mark(ctx, opID, status, reason)
}

// opCoverage builds the per-operation coverage of check for the spec's
// operations (plus "" for target-wide requests when there were any).
func (c *Client) opCoverage(check string, opIDs []string) []OpCoverage {
	c.mu.Lock()
	reqs, calls, throttled := map[string]int{}, map[string]int{}, map[string]int{}
	for op, n := range c.coverage[check] {
		reqs[op] = n
	}
	for op, n := range c.calls[check] {
		calls[op] = n
	}
	for op, n := range c.throttled[check] {
		throttled[op] = n
	}
	c.mu.Unlock()
	marks := c.ext.marksOf(check)
	ids := append([]string(nil), opIDs...)
	if reqs[""] > 0 || marks[""].status != "" {
		ids = append([]string{""}, ids...)
	}
	out := make([]OpCoverage, 0, len(ids))
	for _, id := range ids {
		oc := OpCoverage{Operation: id, Requests: reqs[id], Status: CoverNotApplicable, Throttled: throttled[id]}
		m := marks[id]
		allThrottled := oc.Throttled > 0 && oc.Throttled == calls[id]
		switch {
		case m.status == CoverTested || (reqs[id] > 0 && m.status != CoverNotRun && !allThrottled):
			oc.Status = CoverTested
			if m.status == CoverTested {
				oc.Reason = m.reason
			}
			if oc.Throttled > 0 {
				oc.Reason = fmt.Sprintf("partly: %d of %d answers rate limited after retries", oc.Throttled, calls[id])
			}
		case allThrottled && m.status != CoverNotRun:
			oc.Status, oc.Reason = CoverSkipped, fmt.Sprintf("rate limited: all %d answers were 429 (or 503 with Retry-After) after retries", oc.Throttled)
		case m.status != "":
			oc.Status, oc.Reason = m.status, m.reason
		}
		out = append(out, oc)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Operation < out[j].Operation })
	return out
}
