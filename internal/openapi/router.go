package openapi

import "errors"

// Errors returned by Router.Match. All are expected outcomes, checked with errors.Is.
var (
	// ErrNotFound: no path template matches (404).
	ErrNotFound = errors.New("openapi: no matching route")
	// ErrMethodNotAllowed: a template matches but not with this method (405).
	ErrMethodNotAllowed = errors.New("openapi: method not allowed")
	// ErrBadPath: the raw path is malformed or ambiguous and is rejected
	// rather than guessed (400).
	ErrBadPath = errors.New("openapi: malformed or ambiguous path")
)

// Router matches requests to operations. It is immutable and safe for concurrent use.
type Router struct{}

// Match is the result of a successful route match.
type Match struct {
	Operation *Operation
	// Params holds decoded path parameter values by name.
	Params map[string]string
	// Path is the canonical decoded path that matched.
	Path string
	// RawPath is Path re-encoded canonically: exactly what is forwarded upstream.
	RawPath string
}

// Match maps a request to an operation. rawPath is the request-target's path
// exactly as received (the part of r.RequestURI before '?'), never a
// pre-decoded r.URL.Path: the router owns canonicalization.
func (s *Spec) Match(method, rawPath string) (*Match, error) {
	return nil, ErrNotFound // implemented by the route-matcher work
}

// newRouter compiles the spec's path templates.
func newRouter(s *Spec) (*Router, error) { return &Router{}, nil }
