// Package logbuf is the gateway's buffered log output: log records (one
// Write each, as slog handlers do) are appended to a memory buffer and
// written to the underlying writer in one system call per flush, instead of
// one per request.
//
// Lines are whole records: a Write is never split between flushes. Between
// Start and Close, a flush happens when the buffer reaches the flush size,
// on every tick of the interval, and on Close; a shutdown that calls Close
// therefore loses no line. The buffer is bounded: while the output cannot keep up (a blocked
// pipe), records beyond the pending limit are dropped and counted, and the
// count is written as a line of its own at the next flush, so a stuck log
// reader never blocks requests and never grows memory without bound. A
// Write does no I/O (a copy under a mutex): the flushing goroutine does it. A crash (not a shutdown) loses at most one interval of lines.
package logbuf

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Defaults for New.
const (
	DefaultFlushBytes = 32 << 10
	DefaultMaxBytes   = 4 << 20
	DefaultInterval   = 100 * time.Millisecond
)

// Writer buffers whole records for out between Start and Close, and
// writes through to out before Start and after Close. It is safe for
// concurrent use; the zero value is not usable (use New).
type Writer struct {
	out        io.Writer
	flushBytes int
	maxBytes   int
	kick       chan struct{} // a flush is due (size reached)

	mu        sync.Mutex
	buf       []byte
	dropped   int64
	buffering bool
	stop      chan struct{} // closes to stop the flusher
	stopped   chan struct{} // closed when the flusher returned

	wmu   sync.Mutex // serialises writes to out; Write takes it only when not buffering
	spare []byte     // the other buffer, owned by the holder of wmu
}

// New returns a Writer for out that, once started, flushes at flushBytes
// and drops records beyond maxBytes of pending data (zero: the defaults).
func New(out io.Writer, flushBytes, maxBytes int) *Writer {
	if flushBytes <= 0 {
		flushBytes = DefaultFlushBytes
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxBytes < flushBytes {
		maxBytes = flushBytes
	}
	return &Writer{out: out, flushBytes: flushBytes, maxBytes: maxBytes, kick: make(chan struct{}, 1)}
}

// Write appends one record: a copy under a mutex, no I/O. Before Start and
// after Close it writes through to out.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.buffering {
		w.mu.Unlock()
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.maxBytes {
		w.dropped++
		w.mu.Unlock()
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.flushBytes
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes everything buffered so far.
func (w *Writer) Flush() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.flushLocked(false)
}

// flushLocked takes the buffer (and, when ending, leaves buffering in the
// same step, so no record lands in a buffer nobody flushes) and writes it;
// w.wmu is held.
func (w *Writer) flushLocked(end bool) error {
	w.mu.Lock()
	data, dropped := w.buf, w.dropped
	w.buf, w.dropped = w.spare[:0], 0
	if end {
		w.buffering = false
	}
	w.mu.Unlock()
	var err error
	if len(data) > 0 {
		_, err = w.out.Write(data)
	}
	if dropped > 0 {
		_, _ = fmt.Fprintf(w.out, "{\"level\":\"WARN\",\"msg\":\"log output could not keep up; lines dropped\",\"component\":\"log\",\"dropped\":%d}\n", dropped)
	}
	w.spare = data[:0]
	return err
}

// Start begins buffering and starts the goroutine that flushes every
// interval (DefaultInterval when zero) and whenever the buffer reaches its
// flush size, until Close. tick, when not nil, replaces the timer (tests).
// Start on a started Writer does nothing.
func (w *Writer) Start(interval time.Duration, tick <-chan time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buffering {
		return
	}
	var t *time.Ticker
	if tick == nil {
		if interval <= 0 {
			interval = DefaultInterval
		}
		t = time.NewTicker(interval)
		tick = t.C
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, w.flushBytes+4096)
	}
	w.buffering = true
	stop, stopped := make(chan struct{}), make(chan struct{})
	w.stop, w.stopped = stop, stopped
	go func() {
		defer close(stopped)
		if t != nil {
			defer t.Stop()
		}
		for {
			select {
			case <-stop:
				return
			case <-tick:
			case <-w.kick:
			}
			_ = w.Flush()
		}
	}()
}

// Close stops the flusher and writes what is buffered; later writes go
// straight to out. Close on a Writer that is not started only flushes.
func (w *Writer) Close() error {
	w.mu.Lock()
	stop, stopped := w.stop, w.stopped
	w.stop, w.stopped = nil, nil
	w.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.flushLocked(true)
}
