package httpx

import (
	"bytes"
	"net/http"
	"strconv"
)

// BufferState is what a BufferWriter does with the response body.
type BufferState int

// Buffer states.
const (
	// BufferUndecided: no final status yet (nothing written).
	BufferUndecided BufferState = iota
	// BufferBuffering: the body is held (up to Max) for the caller to decide
	// in its finish step; nothing has reached the client.
	BufferBuffering
	// BufferPassing: status and body go straight to the client, flushes too.
	BufferPassing
	// BufferDiscarding: writes are accepted and dropped; the caller answers
	// (a generic error) in its finish step. Nothing has reached the client.
	BufferDiscarding
)

func (s BufferState) String() string {
	switch s {
	case BufferBuffering:
		return "buffering"
	case BufferPassing:
		return "passing"
	case BufferDiscarding:
		return "discarding"
	}
	return "undecided"
}

// BufferWriter is a bounded buffering http.ResponseWriter for stages that
// must see a whole response before it reaches the client (response
// filtering, response-side ownership checks).
//
// When the handler sends its final status (WriteHeader with a code >= 200,
// or the first Write), Decide chooses: buffer, pass through, or discard. 1xx
// informational responses always pass through. A buffered body never grows
// past Max: a Content-Length above Max (checked when buffering is chosen) or
// a Write that would cross it calls Oversize, which returns BufferPassing
// (what was buffered is sent with the status, the rest streams through) or
// BufferDiscarding (the buffer is dropped); a nil Oversize discards, failing
// closed. Flush reaches the client only while passing; Unwrap exposes the
// underlying writer to http.ResponseController. After the handler returns,
// the caller inspects State, Status and Body and answers with Send (or its
// own error body) when the state is Buffering or Discarding.
//
// Not safe for concurrent use (neither is http.ResponseWriter).
type BufferWriter struct {
	rw http.ResponseWriter
	// Max bounds the buffered body in bytes (<= 0: 1 MiB).
	Max int64
	// Decide picks the state for the final status; the response headers are
	// available through Header. Nil buffers every response.
	Decide func(status int) BufferState
	// Oversize is called with a lower bound of the body size when it
	// exceeds Max; it returns BufferPassing or BufferDiscarding.
	Oversize func(atLeast int64) BufferState

	state  BufferState
	status int
	buf    bytes.Buffer
}

// NewBufferWriter wraps w. decide and oversize may be nil (see BufferWriter).
func NewBufferWriter(w http.ResponseWriter, max int64, decide func(status int) BufferState, oversize func(atLeast int64) BufferState) *BufferWriter {
	if max <= 0 {
		max = 1 << 20
	}
	return &BufferWriter{rw: w, Max: max, Decide: decide, Oversize: oversize}
}

// Header returns the underlying writer's header map (shared: headers set
// before Send reach the client with it).
func (b *BufferWriter) Header() http.Header { return b.rw.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (b *BufferWriter) Unwrap() http.ResponseWriter { return b.rw }

// State reports what the writer is doing with the body.
func (b *BufferWriter) State() BufferState { return b.state }

// Status is the final status the handler sent (0: none yet).
func (b *BufferWriter) Status() int { return b.status }

// Body is the buffered body (valid while Buffering).
func (b *BufferWriter) Body() []byte { return b.buf.Bytes() }

// Flush flushes the underlying writer only while passing: a buffered or
// discarded response must not reach the client early.
func (b *BufferWriter) Flush() {
	if b.state == BufferPassing {
		if fl, ok := b.rw.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

// WriteHeader records the final status and applies Decide; later calls are ignored.
func (b *BufferWriter) WriteHeader(code int) {
	if b.state != BufferUndecided {
		return
	}
	if code >= 100 && code < 200 {
		b.rw.WriteHeader(code)
		return
	}
	b.status = code
	st := BufferBuffering
	if b.Decide != nil {
		st = b.Decide(code)
	}
	if st == BufferBuffering {
		if cl := b.rw.Header().Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > b.max() {
				st = b.oversize(n)
			}
		}
	}
	b.state = st
	if st == BufferPassing {
		b.rw.WriteHeader(code)
	}
}

func (b *BufferWriter) max() int64 {
	if b.Max <= 0 {
		return 1 << 20
	}
	return b.Max
}

func (b *BufferWriter) oversize(n int64) BufferState {
	if b.Oversize != nil && b.Oversize(n) == BufferPassing {
		return BufferPassing
	}
	return BufferDiscarding
}

// Write buffers, passes or drops p according to the state.
func (b *BufferWriter) Write(p []byte) (int, error) {
	if b.state == BufferUndecided {
		b.WriteHeader(http.StatusOK)
	}
	switch b.state {
	case BufferPassing:
		return b.rw.Write(p)
	case BufferDiscarding:
		return len(p), nil
	}
	if int64(b.buf.Len())+int64(len(p)) > b.max() {
		b.state = b.oversize(int64(b.buf.Len()) + int64(len(p)))
		held := b.buf.Bytes()
		b.buf = bytes.Buffer{}
		if b.state == BufferDiscarding {
			return len(p), nil
		}
		b.rw.WriteHeader(b.status)
		if len(held) > 0 {
			if _, err := b.rw.Write(held); err != nil {
				return 0, err
			}
		}
		return b.rw.Write(p)
	}
	return b.buf.Write(p)
}

// Send writes status (0: the handler's status) and body to the client with
// an exact Content-Length, for a buffered response the caller decided to
// deliver (possibly rewritten).
func (b *BufferWriter) Send(status int, body []byte) {
	if status == 0 {
		status = b.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	b.rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	b.rw.WriteHeader(status)
	_, _ = b.rw.Write(body)
}
