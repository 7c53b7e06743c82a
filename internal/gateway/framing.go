package gateway

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Request framing checks on plain-HTTP/1.x connections (RFC 9112 §6.3,
// §5.2, §2.2).
//
// Go's net/http server accepts a request that carries both
// Transfer-Encoding: chunked and Content-Length (it drops Content-Length and
// keeps the connection open), folds obs-fold header lines and accepts bare
// LF line endings. A front proxy that frames the same bytes differently
// then sees one request where the gateway sees two (request smuggling).
//
// framingConn sits between the listener and net/http and follows the byte
// stream of each connection: it holds back each request's header block
// (bounded by limits.max_header_bytes + 4 KiB, as net/http's own limit)
// until the block is complete and checked, and passes bodies through
// without copying while tracking their framing (Content-Length, or chunk by
// chunk with the same grammar as net/http), so it knows where the next
// header block starts on a keep-alive connection.
//
// A refused header block never reaches net/http: it is replaced by a
// request line net/http itself answers with "400 Bad Request" and
// "Connection: close" (in order, after any earlier pipelined response), and
// the connection ends there. Always refused: Transfer-Encoding together
// with Content-Length, Transfer-Encoding on HTTP/1.0, a Transfer-Encoding
// other than exactly one "chunked", a malformed or conflicting
// Content-Length, obs-fold of a framing field, a header line that is not
// "token: value", a bare CR. With request.strict_framing (the default) also
// any obs-fold line and any bare-LF line ending (in headers and trailers).
// A body that breaks the chunked grammar ends the connection after the
// offending byte (net/http refuses that body too).
//
// Over TLS the listener does the handshake and wraps HTTP/1.x connections
// only (tlslistener.go); HTTP/2 has no such framing ambiguity.

// framingRefusedLine is what net/http reads instead of a refused header
// block: a request line without spaces, which it answers with 400 and
// closes the connection.
const framingRefusedLine = "GATEHOUSE-FRAMING-REFUSED\r\n\r\n"

// Framing refusal reasons (log and gatehouse_blocked_requests_total{stage="framing"}).
const (
	framingTEAndCL       = "te_and_cl"
	framingTEHTTP10      = "te_http10"
	framingTEUnsupported = "te_unsupported"
	framingBadCL         = "bad_content_length"
	framingObsFold       = "obs_fold"
	framingBareLF        = "bare_lf"
	framingBareCR        = "bare_cr"
	framingBadHeader     = "bad_header_line"
	framingBadLine       = "bad_request_line"
	framingBadChunk      = "bad_chunk"
)

// framingListener wraps each accepted connection in a framingConn.
type framingListener struct {
	net.Listener
	// strict reports request.strict_framing of the current pipeline.
	strict func() bool
	// maxHeader bounds a held header block (net/http's limit + 1).
	maxHeader int
	// refused is called once per refusal with the reason.
	refused func(c net.Conn, reason string)
}

func newFramingListener(ln net.Listener, maxHeaderBytes int, strict func() bool, refused func(net.Conn, string)) net.Listener {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	return &framingListener{Listener: ln, strict: strict, maxHeader: maxHeaderBytes + 4096 + 1, refused: refused}
}

func (l *framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, l: l}, nil
}

// framing states.
const (
	stHeader    = iota // collecting a header block
	stFixed            // Content-Length body: rem bytes left
	stChunkLine        // chunk-size line
	stChunkData        // chunk data: rem bytes left
	stChunkCRLF        // the CRLF after chunk data: crlf bytes seen
	stTrailer          // trailer section lines
)

// maxChunkLine is net/http's limit on a chunk-size line; maxTrailer bounds
// the trailer section (net/http's is its 4 KiB read buffer).
const (
	maxChunkLine = 4096
	maxTrailer   = 64 << 10
)

type framingConn struct {
	net.Conn
	l *framingListener

	state int
	rem   uint64 // stFixed, stChunkData
	crlf  int    // stChunkCRLF
	line  []byte // stChunkLine, stTrailer: the current line
	tlen  int    // stTrailer: bytes so far
	first bool   // stTrailer: on the first trailer line

	// buf is the connection's own buffer. hold (header bytes not yet
	// checked), out (checked bytes for net/http) and next (bytes after out,
	// still to be tracked) are windows on it; new bytes are read into the
	// free space after hold only once out and next are drained, so nothing
	// is overwritten before it is handed over.
	buf  []byte
	hold []byte
	scan int // hold[:scan] holds complete, non-empty lines
	out  []byte
	next []byte
	err  error       // read error to return once out is drained
	dead atomic.Bool // refused: after out, EOF (Close may run on another goroutine)
}

// Read hands net/http the connection's bytes, holding each header block
// back until it is complete and checked.
func (c *framingConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.dead.Load() {
			return 0, io.EOF
		}
		if len(c.next) > 0 {
			c.feed(c.next)
			continue
		}
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		if c.state != stHeader {
			// Body bytes: read straight into p and track them in place.
			n, err := c.Conn.Read(p)
			k, bad := c.body(p[:n])
			if bad {
				c.dead.Store(true)
				c.l.refused(c.Conn, framingBadChunk)
				return k, nil
			}
			if k < n { // a new header block starts inside p
				c.hold, c.scan = append(c.ownBuf(), p[k:n]...), 0
			}
			if err != nil {
				c.err = err
			}
			if k > 0 {
				return k, nil
			}
			continue
		}
		// Header block: read into hold until it is complete.
		if len(c.hold) == 0 {
			c.hold, c.scan = c.ownBuf(), 0
		}
		end, scan := headerEnd(c.hold, c.scan)
		c.scan = scan
		if end > 0 {
			c.block(end)
			continue
		}
		if len(c.hold) >= c.l.maxHeader {
			// Over net/http's own limit: it answers 431 and closes.
			c.out, c.hold = c.hold, nil
			c.dead.Store(true)
			continue
		}
		if cap(c.hold)-len(c.hold) < 1024 {
			nb := make([]byte, len(c.hold), 2*len(c.hold)+4096)
			copy(nb, c.hold)
			c.buf, c.hold = nb, nb
		}
		n, err := c.Conn.Read(c.hold[len(c.hold):min(cap(c.hold), c.l.maxHeader)])
		c.hold = c.hold[:len(c.hold)+n]
		if err != nil {
			if isTimeout(err) {
				return 0, err // a deadline (net/http's, or an aborted background read): keep hold
			}
			// The connection ended inside a header block: hand over what came.
			c.out, c.hold, c.err = c.hold, nil, err
		}
	}
}

// isTimeout reports whether err is a net.Error timeout. net/http aborts
// its background read after every request with a past deadline, so this
// runs once per request: the direct assertion (a *net.OpError) spares the
// reflection of errors.As, which is kept for wrapped errors.
func isTimeout(err error) bool {
	if ne, ok := err.(net.Error); ok {
		return ne.Timeout()
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ownBuf returns the connection's buffer, emptied (only called when out
// and next are drained). A buffer grown for a big header block is dropped.
func (c *framingConn) ownBuf() []byte {
	if c.buf == nil || cap(c.buf) > 64<<10 {
		c.buf = make([]byte, 0, 4096)
	}
	return c.buf[:0]
}

// feed tracks buffered bytes b (left over after a header block): the body
// part becomes out, a following header block becomes hold.
func (c *framingConn) feed(b []byte) {
	c.next = nil
	if c.state == stHeader {
		c.hold, c.scan = b, 0
		return
	}
	k, bad := c.body(b)
	c.out = b[:k]
	if bad {
		c.dead.Store(true)
		c.l.refused(c.Conn, framingBadChunk)
		return
	}
	if k < len(b) {
		c.hold, c.scan = b[k:], 0
	}
}

// block checks the complete header block hold[:end].
func (c *framingConn) block(end int) {
	blk := c.hold[:end]
	reason, state, n := checkHeaderBlock(blk, c.l.strict())
	if reason != "" {
		c.l.refused(c.Conn, reason)
		c.out, c.hold = []byte(framingRefusedLine), nil
		c.dead.Store(true)
		return
	}
	c.state, c.rem = state, n
	c.line, c.tlen = c.line[:0], 0
	c.out, c.next, c.hold, c.scan = blk, c.hold[end:], nil, 0
}

// headerEnd returns the length of the header block at the start of b (up
// to and including its empty line), or 0 when it is not complete yet; from
// is where the previous call stopped (returned as scan).
func headerEnd(b []byte, from int) (end, scan int) {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, i
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return i, i // an empty request line ends the block too (and is refused)
		}
	}
	return 0, len(b)
}

// body tracks body bytes b in the current state. It returns how many bytes
// belong to the body (the rest starts the next header block) and whether
// the chunked grammar was broken (then k covers the offending byte).
func (c *framingConn) body(b []byte) (k int, bad bool) {
	for k < len(b) {
		switch c.state {
		case stHeader:
			return k, false
		case stFixed, stChunkData:
			n := uint64(len(b) - k)
			if n > c.rem {
				n = c.rem
			}
			k += int(n)
			c.rem -= n
			if c.rem == 0 {
				if c.state == stFixed {
					c.state = stHeader
				} else {
					c.state, c.crlf = stChunkCRLF, 0
				}
			}
		case stChunkCRLF:
			if b[k] != "\r\n"[c.crlf] {
				return k + 1, true
			}
			k++
			if c.crlf++; c.crlf == 2 {
				c.state = stChunkLine
				c.line = c.line[:0]
			}
		case stChunkLine:
			j := bytes.IndexByte(b[k:], '\n')
			if j < 0 {
				c.line = append(c.line, b[k:]...)
				if len(c.line) > maxChunkLine {
					return len(b), true
				}
				return len(b), false
			}
			c.line = append(c.line, b[k:k+j]...)
			k += j + 1
			size, ok := chunkSize(c.line)
			c.line = c.line[:0]
			if !ok {
				return k, true
			}
			if size == 0 {
				c.state, c.tlen, c.first = stTrailer, 0, true
			} else {
				c.state, c.rem = stChunkData, size
			}
		case stTrailer:
			j := bytes.IndexByte(b[k:], '\n')
			if j < 0 {
				c.line = append(c.line, b[k:]...)
				c.tlen += len(b) - k
				if c.tlen > maxTrailer {
					return len(b), true
				}
				return len(b), false
			}
			c.line = append(c.line, b[k:k+j]...)
			k += j + 1
			c.tlen += j + 1
			line := c.line
			c.line = c.line[:0]
			strict := c.l.strict()
			if len(line) == 0 || line[len(line)-1] != '\r' {
				if strict {
					return k, true
				}
			} else {
				line = line[:len(line)-1]
			}
			if bytes.IndexByte(line, '\r') >= 0 || c.tlen > maxTrailer {
				return k, true
			}
			if len(line) == 0 {
				c.state = stHeader // end of the chunked body
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && (strict || c.first) {
				return k, true
			}
			c.first = false
		}
	}
	return k, false
}

// chunkSize parses a chunk-size line (CRLF excluded from line but its CR
// still present) the way net/http does: CRLF ending, no other CR, trailing
// whitespace and ";extensions" ignored, 1 to 16 hex digits.
func chunkSize(line []byte) (uint64, bool) {
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, false // bare LF
	}
	line = line[:len(line)-1]
	if bytes.IndexByte(line, '\r') >= 0 || len(line) >= maxChunkLine {
		return 0, false
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	line, _, _ = bytes.Cut(line, []byte(";"))
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(line), 16, 64)
	return n, err == nil
}

// checkHeaderBlock checks one request header block (request line, fields,
// empty line) and returns a refusal reason, or the body framing state and
// its length.
func checkHeaderBlock(blk []byte, strict bool) (reason string, state int, n uint64) {
	var te, cl [][]byte
	var http11 bool
	prev := ""
	for i := 0; len(blk) > 0; i++ {
		j := bytes.IndexByte(blk, '\n')
		line := blk[:j]
		blk = blk[j+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		} else if strict {
			return framingBareLF, 0, 0
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return framingBareCR, 0, 0
		}
		if i == 0 {
			// METHOD SP target SP version, split as net/http does.
			_, rest, ok1 := bytes.Cut(line, []byte(" "))
			_, proto, ok2 := bytes.Cut(rest, []byte(" "))
			if !ok1 || !ok2 {
				return framingBadLine, 0, 0
			}
			switch string(proto) {
			case "HTTP/1.1":
				http11 = true
			case "HTTP/1.0":
			default:
				major, minor, ok := http.ParseHTTPVersion(string(proto))
				if !ok || major != 1 {
					return framingBadLine, 0, 0
				}
				http11 = minor >= 1
			}
			continue
		}
		if len(line) == 0 {
			break // the empty line ending the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			if strict {
				return framingObsFold, 0, 0
			}
			if i == 1 {
				return framingBadHeader, 0, 0
			}
			if prev == "te" || prev == "cl" {
				return framingObsFold, 0, 0
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return framingBadHeader, 0, 0
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case asciiEqualFold(name, "Transfer-Encoding"):
			te, prev = append(te, value), "te"
		case asciiEqualFold(name, "Content-Length"):
			cl, prev = append(cl, value), "cl"
		default:
			prev = ""
		}
	}
	if len(te) > 0 {
		switch {
		case len(cl) > 0:
			return framingTEAndCL, 0, 0
		case !http11:
			return framingTEHTTP10, 0, 0
		case len(te) != 1 || !asciiEqualFold(te[0], "chunked"):
			return framingTEUnsupported, 0, 0
		}
		return "", stChunkLine, 0
	}
	if len(cl) > 0 {
		for _, v := range cl {
			if !bytes.Equal(v, cl[0]) || len(v) == 0 || len(v) > 18 || !allDigits(v) {
				return framingBadCL, 0, 0
			}
		}
		n, _ = strconv.ParseUint(string(cl[0]), 10, 63)
		if n > 0 {
			return "", stFixed, n
		}
	}
	return "", stHeader, 0
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tchar marks the bytes of an RFC 9110 token.
var tchar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// isToken reports whether b is an RFC 9110 token (a field name).
func isToken(b []byte) bool {
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return len(b) > 0
}

// asciiEqualFold compares b and s ignoring ASCII case only (Unicode folding
// would match "Tranſfer-Encoding").
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// CloseWrite half-closes the connection when the underlying one can, so
// net/http's lingering close keeps working.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection; after a refusal it first half-closes and
// drains what the client still sends (up to 256 KiB or 500 ms, in the
// background), so the client reads the 400 instead of a reset.
func (c *framingConn) Close() error {
	if !c.dead.Load() {
		return c.Conn.Close()
	}
	_ = c.CloseWrite()
	go func() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 256<<10))
		_ = c.Conn.Close()
	}()
	return nil
}

// framingRefused logs and counts a refusal.
func framingRefused(log *slog.Logger, m *Metrics) func(net.Conn, string) {
	return func(c net.Conn, reason string) {
		if m != nil {
			m.Blocked.WithLabelValues("framing", reason).Inc()
		}
		log.Warn("request framing refused; connection closed", "reason", reason, "remote", c.RemoteAddr().String())
	}
}
