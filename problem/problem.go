// Package problem writes generic RFC 9457 problem+json error responses.
//
// The client gets a status, a fixed title for that status and the request ID;
// the detail of what went wrong goes only to the log, linked by the same
// request ID. That is the whole defence against leaky error messages: no Go
// error text, schema text, upstream body or stack trace is ever copied into a
// response body unless the operator turned on expose_details for development.
package problem

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// ContentType is the media type of problem bodies.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem document.
type Details struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Field names the failing parameter or JSON pointer of a validation error,
	// when the operator allows it (errors.validation_detail: field).
	Field string `json:"field,omitempty"`
}

// Error is an error with a public face. Status and Public go to the client;
// Err goes to the log only.
type Error struct {
	Status int
	Public string // short, generic; defaults to the status text
	Field  string // optional: failing parameter or JSON pointer (no values)
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%d %s", e.Status, e.Public)
	}
	return fmt.Sprintf("%d %s: %v", e.Status, e.Public, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

type exposeKey struct{}

// WithExposeDetails marks ctx so that Write includes the internal error text
// in the body. For development only: it leaks internals to clients.
func WithExposeDetails(ctx context.Context) context.Context {
	return context.WithValue(ctx, exposeKey{}, true)
}

// ExposeDetailsFrom reports whether ctx was marked by WithExposeDetails.
func ExposeDetailsFrom(ctx context.Context) bool {
	v, _ := ctx.Value(exposeKey{}).(bool)
	return v
}

// New returns the generic problem document for status.
func New(ctx context.Context, status int) Details {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	return Details{Type: "about:blank", Title: title, Status: status,
		RequestID: gatehouse.RecordFrom(ctx).Snapshot().RequestID}
}

// Write sends a generic problem response for status. Extra headers (such as
// WWW-Authenticate or Retry-After) must be set on w before calling Write.
func Write(w http.ResponseWriter, r *http.Request, status int) {
	WriteDetails(w, New(r.Context(), status))
}

// WriteError sends the public face of err: its Status, Public title and Field
// when err is an *Error, otherwise 500. The internal text is included only
// when the context allows it (WithExposeDetails).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	d := New(r.Context(), status)
	var pe *Error
	if ok := asError(err, &pe); ok {
		d = New(r.Context(), pe.Status)
		if pe.Public != "" {
			d.Title = pe.Public
		}
		d.Field = pe.Field
	}
	if expose, _ := r.Context().Value(exposeKey{}).(bool); expose && err != nil {
		d.Detail = err.Error()
	}
	WriteDetails(w, d)
}

// WriteDetails writes d as the response.
func WriteDetails(w http.ResponseWriter, d Details) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(d)
}
