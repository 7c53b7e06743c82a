package gatehouse

import "context"

// Route is the operation a request was matched to by the spec router, after
// path canonicalization. Every later stage (authorization, rate limiting,
// validation) keys on it, never on the raw request path.
type Route struct {
	// OperationID is the spec's operationId, or "METHOD /template" when absent.
	OperationID string
	Method      string // upper case
	// Template is the spec path template, e.g. "/users/{user_id}".
	Template string
	// Path is the canonical, decoded path that was matched; it is what the
	// gateway forwards upstream (re-encoded).
	Path string
	// RawPath is Path re-encoded canonically ("/users/a%20b"): exactly what
	// the gateway forwards upstream. Empty when the route was not built by
	// the gateway's router.
	RawPath string
	// Params holds the decoded path parameters by name.
	Params map[string]string
	Tags   []string
	// Mode is the enforce/monitor mode configured for this route.
	Mode Mode
}

type routeKey struct{}

// WithRoute returns ctx carrying rt.
func WithRoute(ctx context.Context, rt *Route) context.Context {
	return context.WithValue(ctx, routeKey{}, rt)
}

// RouteFrom returns the matched route, or nil when the request was not routed.
func RouteFrom(ctx context.Context) *Route {
	rt, _ := ctx.Value(routeKey{}).(*Route)
	return rt
}
