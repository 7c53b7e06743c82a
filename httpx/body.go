package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/jsonx"
)

// ErrBodyTooLarge is returned by Body when the request body exceeds the limit.
var ErrBodyTooLarge = errors.New("request body too large")

type bodyKey struct{}

type bodyCache struct {
	b   []byte
	err error
	// parsed holds the jsonx parses of b, one per set of limits asked for
	// (in the gateway every stage asks with the same limits: one entry).
	parsed []parsedBody
}

type parsedBody struct {
	lim jsonx.Limits
	v   any
	err error
}

// WithBodyCache prepares ctx so that Body reads the request body once and
// every later stage (ownership rules, validation, login throttling) sees the
// same bytes.
func WithBodyCache(ctx context.Context) context.Context {
	return &bodyCtx{Context: ctx}
}

// bodyCtx is WithBodyCache's context: the cache and the context holding it
// in one allocation (context.WithValue would add a second).
type bodyCtx struct {
	context.Context
	c bodyCache
}

func (b *bodyCtx) Value(key any) any {
	if _, ok := key.(bodyKey); ok {
		return &b.c
	}
	return b.Context.Value(key)
}

func (b *bodyCtx) String() string { return "httpx.WithBodyCache" }

// Body returns the request body, reading at most max bytes (max <= 0: 1 MiB),
// and resets r.Body so the request can still be forwarded. With a body cache
// in the context (WithBodyCache) the read happens once per request. A body
// over the limit yields ErrBodyTooLarge.
func Body(r *http.Request, max int64) ([]byte, error) {
	if max <= 0 {
		max = 1 << 20
	}
	c, _ := r.Context().Value(bodyKey{}).(*bodyCache)
	if c != nil && (c.b != nil || c.err != nil) {
		r.Body = io.NopCloser(bytes.NewReader(c.b))
		return c.b, c.err
	}
	var b []byte
	var err error
	if r.Body != nil && r.Body != http.NoBody {
		b, err = io.ReadAll(io.LimitReader(r.Body, max+1))
		_ = r.Body.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// the listener's limits.max_body (http.MaxBytesReader) was hit
			err = fmt.Errorf("%w: %w", ErrBodyTooLarge, err)
		} else if err != nil {
			err = fmt.Errorf("read request body: %w", err)
		} else if int64(len(b)) > max {
			err = ErrBodyTooLarge
		}
	}
	if b == nil {
		b = []byte{}
	}
	if c != nil {
		c.b, c.err = b, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return b, err
}

// JSON returns b, the body Body returned for r, parsed by jsonx under lim.
// With a body cache in the context it is parsed once per request and set of
// limits: every stage that asks with the same limits gets the same value
// (the same maps and slices), so no two stages of a request can read one
// body differently, and none pays for a second parse. The value is shared:
// callers must not modify it. Without a cache b is simply parsed.
func JSON(r *http.Request, b []byte, lim jsonx.Limits) (any, error) {
	c, _ := r.Context().Value(bodyKey{}).(*bodyCache)
	if c == nil || c.b == nil || len(c.b) != len(b) || (len(b) > 0 && &c.b[0] != &b[0]) {
		// no cache, or b is not the cached body (a caller's own bytes)
		return jsonx.Parse(b, lim)
	}
	for _, p := range c.parsed {
		if p.lim == lim {
			return p.v, p.err
		}
	}
	v, err := jsonx.Parse(b, lim)
	c.parsed = append(c.parsed, parsedBody{lim: lim, v: v, err: err})
	return v, err
}
