// Package httpx holds small HTTP helpers shared by the gateway: request IDs,
// client IP resolution behind trusted proxies, and a ResponseWriter wrapper
// that records the status and size while keeping http.ResponseController
// working (Unwrap).
package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// StatusClientClosedRequest (499, as nginx logs it) is the status the
// gateway records for a request whose client hung up before the upstream
// answered: nothing is sent, the access log and metrics show 499, and it
// does not count as an upstream failure.
const StatusClientClosedRequest = 499

// NewRequestID returns a random 128-bit hex request ID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StatusWriter records the status code and bytes written.
// It is not safe for concurrent use (neither is http.ResponseWriter).
type StatusWriter struct {
	http.ResponseWriter
	Status int
	Bytes  int64
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
