package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/problem"
)

// Request framing checks over TLS.
//
// net/http serves HTTP/2 only on a *tls.Conn it gets from Accept (it runs
// the handshake and looks at the ALPN result), so the framing tracker of
// framing.go cannot simply sit under it. handshakeListener does the
// handshake itself instead, one goroutine per connection (a slow or
// silent client never blocks Accept), bounded by a handshake timeout, and
// then hands net/http:
//
//   - the *tls.Conn itself when ALPN negotiated "h2": net/http's built-in
//     HTTP/2 server serves it with the same settings as before, its own
//     handshake call is a no-op, and Server.Shutdown drains it (GOAWAY,
//     in-flight streams finish). HTTP/2 frames its messages in binary, and
//     Go's server refuses connection-specific fields (Transfer-Encoding
//     other than in TE: trailers) and a body longer or shorter than its
//     content-length (stream reset): no TE/CL ambiguity to check;
//   - otherwise (ALPN "http/1.1" or none) the framingConn around the
//     *tls.Conn, with a ConnectionState method: net/http sets r.TLS from it
//     for connections that are not a *tls.Conn (server.go, connectionStater),
//     so HSTS, X-Forwarded-Proto and anything reading r.TLS stay right.
//
// Closing the listener (Server.Shutdown, Close) stops accepting and closes
// the connections still in their handshake and those handshaken but not yet
// taken by Accept.
type handshakeListener struct {
	raw     net.Listener
	cfg     *tls.Config
	timeout time.Duration
	// h1 wraps an HTTP/1.x TLS connection (the framing tracker).
	h1  func(*tls.Conn) net.Conn
	log *slog.Logger

	conns chan net.Conn
	errc  chan error
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	pending map[net.Conn]struct{} // raw connections in their handshake
}

// newHandshakeListener starts accepting on raw. timeout bounds each
// handshake (0: 10s). log gets failed handshakes at Debug.
func newHandshakeListener(raw net.Listener, cfg *tls.Config, timeout time.Duration, h1 func(*tls.Conn) net.Conn, log *slog.Logger) *handshakeListener {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &handshakeListener{raw: raw, cfg: cfg, timeout: timeout, h1: h1, log: log,
		conns: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{}), pending: map[net.Conn]struct{}{}}
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.raw.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if t, ok := err.(interface{ Temporary() bool }); ok && t.Temporary() {
				// Temporary (EMFILE and the like): back off as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.log.Warn("accept error; retrying", "error", err, "delay", backoff.String())
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
					return
				}
			}
			select {
			case l.errc <- err:
			case <-l.done:
			}
			return
		}
		backoff = 0
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			_ = c.Close()
			return
		default:
		}
		l.pending[c] = struct{}{}
		l.mu.Unlock()
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.cfg)
	dl := time.Now().Add(l.timeout)
	_ = raw.SetDeadline(dl)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.mu.Lock()
	delete(l.pending, raw)
	l.mu.Unlock()
	if err != nil {
		// A plain-HTTP request on the TLS port gets the same short 400 as
		// from net/http's own handshake.
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.log.Debug("tls handshake failed", "remote", raw.RemoteAddr().String(), "error", err)
		_ = raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		c = l.h1(tc)
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// looksLikeHTTP reports whether the first bytes of a connection are an
// HTTP/1 request line rather than a TLS record.
func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE"} {
		if strings.HasPrefix(string(hdr), m) {
			return true
		}
	}
	return false
}

// Accept returns the next handshaken connection.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes connections still in their handshake.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.pending {
			_ = c.Close()
		}
		l.mu.Unlock()
		err = l.raw.Close()
	})
	return err
}

// Addr is the raw listener's address.
func (l *handshakeListener) Addr() net.Addr { return l.raw.Addr() }

// tlsFramingConn is a framingConn over a *tls.Conn. Its ConnectionState
// makes net/http set r.TLS (see handshakeListener).
type tlsFramingConn struct {
	*framingConn
	tc *tls.Conn
}

// ConnectionState is the TLS state of the underlying connection.
func (c *tlsFramingConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// wrapTLS returns the framing wrapper for HTTP/1.x connections over TLS.
func (l *framingListener) wrapTLS(tc *tls.Conn) net.Conn {
	return &tlsFramingConn{framingConn: &framingConn{Conn: tc, l: l}, tc: tc}
}

// tlsHandshakeTimeout is net/http's bound on a server-side handshake: the
// smallest positive of the read-header, read and write timeouts.
func tlsHandshakeTimeout(ds ...time.Duration) time.Duration {
	var ret time.Duration
	for _, d := range ds {
		if d > 0 && (ret == 0 || d < ret) {
			ret = d
		}
	}
	return ret
}

// h2Framing refuses (400) an HTTP/2 request with Content-Length fields that
// disagree. Go's HTTP/2 server checks the DATA frames against the first
// one only and hands the others to handlers, so a stage reading the header
// could see another length than the one enforced (RFC 9110 §8.6: an
// unrecoverable error). HTTP/1.x never gets here with such a request (the
// framing tracker and net/http refuse it).
func (s *Server) h2Framing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			if cl := r.Header["Content-Length"]; len(cl) > 1 {
				for _, v := range cl[1:] {
					if v != cl[0] {
						s.metrics.Blocked.WithLabelValues("framing", framingBadCL).Inc()
						s.log.Warn("request framing refused", "reason", framingBadCL, "proto", r.Proto, "remote", r.RemoteAddr)
						problem.Write(w, r, http.StatusBadRequest)
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
