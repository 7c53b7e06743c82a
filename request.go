package gatehouse

import (
	"context"
	"sync/atomic"
)

// requestCtx is the context NewRequestContext returns: the request's Record
// and a slot for its Route in one allocation, answering RecordFrom and
// RouteFrom without a context.WithValue (and a Request copy) per value.
type requestCtx struct {
	context.Context
	rec   Record
	route atomic.Pointer[Route] // set once by SetRoute
}

type requestKey struct{}

func (c *requestCtx) Value(key any) any {
	switch key.(type) {
	case recordKey:
		return &c.rec
	case routeKey:
		if rt := c.route.Load(); rt != nil {
			return rt
		}
	case requestKey:
		return c
	}
	return c.Context.Value(key)
}

func (c *requestCtx) String() string { return "gatehouse.RequestContext" }

// NewRequestContext returns ctx carrying a new Record for the request
// requestID and an empty route slot that SetRoute fills: what
// NewRecordContext and WithRoute give, in one allocation and without a
// second context for the route. The gateway's outermost stage uses it.
func NewRequestContext(ctx context.Context, requestID string) (context.Context, *Record) {
	c := &requestCtx{Context: ctx}
	c.rec.RequestID = requestID
	return c, &c.rec
}

// SetRoute stores rt as the route of the request whose context ctx is (or
// derives from) a NewRequestContext, so that RouteFrom returns it without a
// new context. It reports false, storing nothing, when ctx has no such slot
// or already carries a route; the caller then uses WithRoute, whose context
// shadows the earlier route as before.
//
// Unlike WithRoute the route becomes visible through every context derived
// from the request context, including ones derived before the call: set it
// once, in the stage that matches the request, before any later stage runs.
// It is safe for concurrent use.
func SetRoute(ctx context.Context, rt *Route) bool {
	c, ok := ctx.Value(requestKey{}).(*requestCtx)
	if !ok || rt == nil || RouteFrom(ctx) != nil {
		return false
	}
	return c.route.CompareAndSwap(nil, rt)
}
