package gateway

import (
	"errors"
	"net"
	"sync"
)

// limitListener caps the open connections of a listener (limits.max_conns)
// as golang.org/x/net/netutil.LimitListener does: Accept waits for a free
// slot before accepting, so connections past the cap wait in the kernel's
// accept queue; a slot frees when its connection is closed.
//
// Unlike netutil's, its connections keep CloseWrite of the underlying
// *net.TCPConn. net/http half-closes (closeWriter) after answering a
// request it refuses (431, 400) and the framing tracker does so after its
// 400, so the client reads the answer and then EOF; behind netutil's
// wrapper the half-close was silently skipped, the FIN never came, and the
// full close that followed with the client's bytes still unread reached
// the client as a reset (ECONNRESET) instead of the answer. It sits under
// the framing tracker and under the TLS handshake, so the methods net/http
// looks for (CloseWrite; ConnectionState over TLS) are those of the
// wrappers above it.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

// newLimitListener returns ln with at most n connections open at once.
func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then accepts.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// limitConn frees its slot once, on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.sem })
	return err
}

// CloseWrite half-closes the underlying connection (a *net.TCPConn).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
