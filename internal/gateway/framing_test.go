package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// framingUpstream is an upstream that records every request path it
// receives, so a test can tell whether a smuggled request got through.
type framingUpstream struct {
	mu    sync.Mutex
	paths []string
}

func (u *framingUpstream) saw(path string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.paths {
		if p == path {
			return true
		}
	}
	return false
}

func (u *framingUpstream) count() int { u.mu.Lock(); defer u.mu.Unlock(); return len(u.paths) }

func startRecording(t *testing.T, extra string) (base string, up *framingUpstream) {
	t.Helper()
	up = &framingUpstream{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		up.mu.Lock()
		up.paths = append(up.paths, r.URL.Path)
		up.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base, _ = startAt(t, "http://"+ln.Addr().String(), "", extra)
	return base, up
}

// rawExchange writes msg on a new connection and reads until the gateway
// closes it (or 3 s pass). It returns the responses read and whether the
// connection was closed by the gateway.
func rawExchange(t *testing.T, base, msg string) (resps []*http.Response, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			return resps, !(errors.As(err, &ne) && ne.Timeout())
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		resps = append(resps, res)
		if res.Close {
			// The gateway announced the close: the next read must see EOF.
			_, err := br.ReadByte()
			return resps, err == io.EOF
		}
	}
}

const smuggled = "GET /users/smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n"

// framingAttacks are request smuggling attempts; each must be refused with
// 400 and the connection closed, and the smuggled GET never reach the
// upstream.
var framingAttacks = []struct{ name, msg string }{
	{"CL.TE", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE.CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE xchunked with CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE xchunked", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE leading space with CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding:  chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE tab value with CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE chunked, identity", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE identity, chunked with CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: identity, chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"duplicate TE", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE name tab colon", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding\t: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE name space colon", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE long s", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTranſfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE lower case with CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\ntransfer-encoding: CHUNKED\r\ncontent-length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE obs-fold", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{"TE on HTTP/1.0 with CL", "POST /users HTTP/1.0\r\nHost: gw.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{"conflicting CL", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nContent-Length: 48\r\n\r\n" + smuggled},
	{"CL with plus", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Length: +0\r\n\r\n" + smuggled},
	{"CL list", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0, 48\r\n\r\n" + smuggled},
	{"obs-fold", "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: one\r\n two\r\n\r\n" + smuggled},
	{"obs-fold tab", "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: one\r\n\ttwo\r\n\r\n" + smuggled},
	{"bare LF", "GET /users/1 HTTP/1.1\nHost: gw.test\n\n" + smuggled},
	{"bare LF in one line", "GET /users/1 HTTP/1.1\r\nHost: gw.test\nX-Note: 1\r\n\r\n" + smuggled},
	{"bare CR", "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: 1\rContent-Length: 48\r\n\r\n" + smuggled},
	{"after a good request (pipelined)", "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\n\r\n" +
		"POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
}

// TestAttackRequestSmugglingFraming sends each smuggling attempt over raw
// TCP to the real listener: 400, connection closed, nothing smuggled (on
// today's Go net/http, CL.TE and TE.CL were answered 200 on a connection
// left open, and the smuggled GET reached the upstream).
func TestAttackRequestSmugglingFraming(t *testing.T) {
	base, up := startRecording(t, "")
	for i, tc := range framingAttacks {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			path := "/users/smuggled" + strconv.Itoa(i) // one path per case
			resps, closed := rawExchange(t, base, strings.ReplaceAll(tc.msg, "/users/smuggled", path))
			if len(resps) == 0 {
				t.Fatalf("no response (closed %v)", closed)
			}
			last := resps[len(resps)-1]
			if last.StatusCode != 400 {
				t.Fatalf("status %d, want 400", last.StatusCode)
			}
			if !closed {
				t.Fatal("connection left open after the refusal")
			}
			for _, r := range resps[:len(resps)-1] { // the good pipelined request before it
				if r.StatusCode != 200 {
					t.Fatalf("earlier pipelined request: %d", r.StatusCode)
				}
			}
			if up.saw(path) {
				t.Fatal("the smuggled request reached the upstream")
			}
			if got, want := up.count()-before, len(resps)-1; got != want {
				t.Fatalf("upstream received %d requests, want %d", got, want)
			}
		})
	}
}

// TestAttackSmugglingBadChunkGrammar: a chunked body that breaks the chunk
// grammar (bare LF, a size with a sign, an over-long size, data without its
// CRLF) ends the connection; the request behind it is never read.
func TestAttackSmugglingBadChunkGrammar(t *testing.T) {
	base, up := startRecording(t, "")
	for name, body := range map[string]string{
		"bare LF size line":  "3\nabc\r\n0\r\n\r\n",
		"signed size":        "+3\r\nabc\r\n0\r\n\r\n",
		"17 hex digits":      "00000000000000003\r\nabc\r\n0\r\n\r\n",
		"data without CRLF":  "3\r\nabcX\r\n0\r\n\r\n",
		"bare LF last chunk": "0\n\n",
		"trailer bare LF":    "0\r\nX-T: 1\n\r\n",
		"trailer obs-fold":   "0\r\nX-T: 1\r\n 2\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := "/users/smuggled-" + strings.ReplaceAll(name, " ", "-") // one path per case
			msg := "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
				strings.ReplaceAll(smuggled, "/users/smuggled", path)
			resps, closed := rawExchange(t, base, msg)
			if !closed {
				t.Fatal("connection left open after a broken chunked body")
			}
			for _, r := range resps {
				if r.StatusCode == 200 {
					t.Fatalf("a broken chunked body was answered 200")
				}
			}
			if up.saw(path) {
				t.Fatal("the request after the broken body reached the upstream")
			}
		})
	}
}

// TestFramingKeepsWellFormedTraffic: well-formed requests pipelined on one
// connection (Content-Length body, chunked body with extensions and a
// trailer, chunks split across writes, optional whitespace in
// Transfer-Encoding, a GET) are all served, in order, with the connection
// kept open.
func TestFramingKeepsWellFormedTraffic(t *testing.T) {
	base, up := startRecording(t, "")
	msg := "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
		"POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding:  Chunked \r\n\r\n" +
		"1;ext=1\r\n{\r\n1 \r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"GET /users/2 HTTP/1.1\r\nHost: gw.test\r\nX-Long: " + strings.Repeat("a", 6000) + "\r\n\r\n" +
		"GET /users/3 HTTP/1.1\r\nHost: gw.test\r\n\r\n"
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { // in small pieces: blocks and chunks straddle reads
		for i := 0; i < len(msg); i += 7 {
			_, _ = io.WriteString(c, msg[i:min(i+7, len(msg))])
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 4 {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Close {
			t.Fatalf("response %d: %d close=%v", i, res.StatusCode, res.Close)
		}
	}
	if up.count() != 4 || !up.saw("/users/3") {
		t.Fatalf("upstream saw %d requests", up.count())
	}
}

// TestFramingLenientMode: with request.strict_framing: false, obs-fold and
// bare LF are left to net/http (accepted), while TE with CL and a folded
// framing field are still refused.
func TestFramingLenientMode(t *testing.T) {
	base, up := startRecording(t, "request:\n  strict_framing: false\n")
	for _, tc := range []struct {
		name, msg string
		want      int
	}{
		{"obs-fold", "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: one\r\n two\r\nConnection: close\r\n\r\n", 200},
		{"bare LF", "GET /users/1 HTTP/1.1\nHost: gw.test\nConnection: close\n\n", 200},
		{"CL.TE", framingAttacks[0].msg, 400},
		{"TE obs-fold", "POST /users HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps, closed := rawExchange(t, base, tc.msg)
			if len(resps) != 1 || resps[0].StatusCode != tc.want || !closed {
				codes := []int{}
				for _, r := range resps {
					codes = append(codes, r.StatusCode)
				}
				t.Fatalf("statuses %v closed %v, want [%d] and closed", codes, closed, tc.want)
			}
		})
	}
	if up.saw("/users/smuggled") {
		t.Fatal("smuggled request reached the upstream")
	}
}

// stepConn is a net.Conn that returns at most step bytes per Read.
type stepConn struct {
	net.Conn
	r    io.Reader
	step int
}

func (c *stepConn) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.step)]) }
func (c *stepConn) Close() error               { return nil }
func (c *stepConn) RemoteAddr() net.Addr       { return &net.TCPAddr{} }

// throughFraming returns what net/http would read from in through a
// framingConn whose underlying reads return at most step bytes, read with
// buffers of size rd.
func throughFraming(in []byte, strict bool, step, rd int) (out []byte, refused []string) {
	l := &framingListener{strict: func() bool { return strict }, maxHeader: 1<<20 + 4096 + 1,
		refused: func(_ net.Conn, r string) { refused = append(refused, r) }}
	c := &framingConn{Conn: &stepConn{r: bytes.NewReader(in), step: step}, l: l}
	buf := make([]byte, rd)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, refused
		}
	}
}

// FuzzFramingConn: whatever the bytes and however they are split into
// reads, the framing tracker hands net/http the same bytes: a prefix of
// the input, or a prefix followed by the refusal line, never anything
// else; and it decides the same for every split.
func FuzzFramingConn(f *testing.F) {
	for _, a := range framingAttacks {
		f.Add([]byte(a.msg), uint8(1), false)
	}
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(3), true)
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(2), true)
	f.Fuzz(func(t *testing.T, in []byte, step uint8, strict bool) {
		ref, refReasons := throughFraming(in, strict, len(in)+1, 4096)
		got, reasons := throughFraming(in, strict, int(step%16)+1, int(step%5)+1)
		if !bytes.Equal(ref, got) || len(refReasons) != len(reasons) {
			t.Fatalf("split-dependent: %q (%v) vs %q (%v)", ref, refReasons, got, reasons)
		}
		if bytes.HasPrefix(in, ref) {
			return
		}
		if !bytes.HasSuffix(ref, []byte(framingRefusedLine)) || !bytes.HasPrefix(in, ref[:len(ref)-len(framingRefusedLine)]) {
			t.Fatalf("output is neither a prefix of the input nor a prefix + refusal: %q", ref)
		}
	})
}

// BenchmarkFramingConn measures the framing tracker per request on a
// keep-alive stream: a typical GET header block (about 400 bytes), and a
// POST with a 1 KiB body sent chunked and with Content-Length, read by
// net/http-sized (4 KiB) reads; "raw" reads the same bytes without it.
func BenchmarkFramingConn(b *testing.B) {
	hdr := "Host: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) bench/1.0\r\nAccept: application/json\r\n" +
		"Accept-Encoding: gzip, deflate\r\nAuthorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl\r\n" +
		"X-Request-Id: 0123456789abcdef\r\nCookie: session=abcdef0123456789\r\n"
	body := strings.Repeat("x", 1024)
	for _, tc := range []struct{ name, req string }{
		{"GET", "GET /users/1 HTTP/1.1\r\n" + hdr + "\r\n"},
		{"POST CL 1KiB", "POST /users HTTP/1.1\r\n" + hdr + "Content-Length: 1024\r\n\r\n" + body},
		{"POST chunked 1KiB", "POST /users HTTP/1.1\r\n" + hdr + "Transfer-Encoding: chunked\r\n\r\n400\r\n" + body + "\r\n0\r\n\r\n"},
	} {
		stream := []byte(strings.Repeat(tc.req, 64))
		for _, wrapped := range []bool{false, true} {
			name := tc.name + "/raw"
			if wrapped {
				name = tc.name + "/framing"
			}
			b.Run(name, func(b *testing.B) {
				buf := make([]byte, 4096)
				l := &framingListener{strict: func() bool { return true }, maxHeader: 1<<20 + 4097, refused: func(net.Conn, string) { b.Fatal("refused") }}
				b.SetBytes(int64(len(tc.req)))
				b.ReportAllocs()
				for i := 0; i < b.N; i += 64 {
					var c net.Conn = &stepConn{r: bytes.NewReader(stream), step: 4096}
					if wrapped {
						c = &framingConn{Conn: c, l: l}
					}
					for {
						if _, err := c.Read(buf); err != nil {
							break
						}
					}
				}
			})
		}
	}
}

// TestFramingOversizedHeaderBlock: a header block over
// limits.max_header_bytes still gets net/http's 431 through the framing
// tracker (which holds at most that much plus 4 KiB), and the connection
// closes.
func TestFramingOversizedHeaderBlock(t *testing.T) {
	up := newUpstream(t)
	base, _ := startAt(t, up.URL, "", "  max_header_bytes: 4KiB\n")
	resps, closed := rawExchange(t, base, "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != 431 || !closed {
		t.Fatalf("responses %d (first %v), closed %v; want one 431 and closed", len(resps), resps, closed)
	}
	if up.requests.Load() != 0 {
		t.Fatal("an oversized header block reached the upstream")
	}
}

// TestFramingStrictnessFollowsReload: request.strict_framing is read from
// the current pipeline for each header block, so a reload turns it off and
// on without a restart.
func TestFramingStrictnessFollowsReload(t *testing.T) {
	e := start(t, "")
	fold := "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: one\r\n two\r\nConnection: close\r\n\r\n"
	reload := func(extra string) {
		writeFile(t, e.cfgPath, configYAML(e.up.URL, extra))
		res, err := http.Post(e.admin+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if err := <-e.reloaded; err != nil || res.StatusCode != 200 {
			t.Fatalf("reload: %d %v", res.StatusCode, err)
		}
	}
	for _, step := range []struct {
		extra string
		want  int
	}{
		{"", 400},
		{"request:\n  strict_framing: false\n", 200},
		{"request:\n  strict_framing: true\n", 400},
	} {
		if step.extra != "" {
			reload(step.extra)
		}
		resps, closed := rawExchange(t, e.base, fold)
		if len(resps) != 1 || resps[0].StatusCode != step.want || !closed {
			t.Fatalf("config %q: %d responses (closed %v), want one %d", step.extra, len(resps), closed, step.want)
		}
	}
}
