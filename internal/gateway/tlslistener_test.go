package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testCert writes a fresh ECDSA P-256 certificate for 127.0.0.1 and its
// key to dir and returns their paths and a pool trusting it.
func testCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"gw.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// tlsEnv is a gateway with TLS on its public listener.
type tlsEnv struct {
	*env
	addr string // host:port of the public listener
	pool *x509.CertPool
}

func startTLS(t *testing.T, extra string, opts ...envOpt) *tlsEnv {
	t.Helper()
	cert, key, pool := testCert(t, t.TempDir())
	e := start(t, "tls:\n  cert_file: "+strconv.Quote(cert)+"\n  key_file: "+strconv.Quote(key)+"\n"+extra, opts...)
	addr := strings.TrimPrefix(e.base, "http://")
	e.base = "https://" + addr
	return &tlsEnv{env: e, addr: addr, pool: pool}
}

// client returns an HTTP client for the gateway; h2 picks HTTP/2 (ALPN
// "h2") or HTTP/1.1 only.
func (e *tlsEnv) client(h2 bool) *http.Client {
	var p http.Protocols
	p.SetHTTP1(!h2)
	p.SetHTTP2(h2)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.pool}, Protocols: &p}}
}

// dial opens a TLS connection offering alpn (none when empty).
func (e *tlsEnv) dial(t *testing.T, alpn ...string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.pool, NextProtos: alpn})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsExchange is rawExchange over TLS.
func tlsExchange(t *testing.T, c *tls.Conn, msg string) (resps []*http.Response, closed bool) {
	t.Helper()
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
			_, err := br.ReadByte()
			return resps, err == io.EOF
		}
	}
}

// TestAttackRequestSmugglingFramingTLS: the smuggling cases of
// TestAttackRequestSmugglingFraming over TLS (HTTP/1.1 by ALPN, and no
// ALPN at all): each 400, connection closed, the smuggled request never at
// the upstream. Before the handshake listener, CL.TE over TLS was answered
// 200 on a connection left open.
func TestAttackRequestSmugglingFramingTLS(t *testing.T) {
	e := startTLS(t, "")
	for _, alpn := range [][]string{{"http/1.1"}, nil} {
		for i, tc := range framingAttacks {
			variant := "alpn-http1.1"
			if alpn == nil {
				variant = "no-alpn"
			}
			t.Run(variant+"/"+tc.name, func(t *testing.T) {
				before := e.up.requests.Load()
				c := e.dial(t, alpn...)
				if p := c.ConnectionState().NegotiatedProtocol; p != strings.Join(alpn, "") {
					t.Fatalf("ALPN %q", p)
				}
				// The recording upstream of env counts requests; one path per case.
				msg := strings.ReplaceAll(tc.msg, "/users/smuggled", "/users/smuggled"+strconv.Itoa(i))
				resps, closed := tlsExchange(t, c, msg)
				if len(resps) == 0 {
					t.Fatalf("no response (closed %v)", closed)
				}
				if last := resps[len(resps)-1]; last.StatusCode != 400 {
					t.Fatalf("status %d, want 400", last.StatusCode)
				}
				if !closed {
					t.Fatal("connection left open after the refusal")
				}
				for _, r := range resps[:len(resps)-1] {
					if r.StatusCode != 200 {
						t.Fatalf("earlier pipelined request: %d", r.StatusCode)
					}
				}
				if got, want := e.up.requests.Load()-before, int64(len(resps)-1); got != want {
					t.Fatalf("upstream received %d requests, want %d (the smuggled one got through)", got, want)
				}
			})
		}
	}
	if n := len(e.logs.lines("request framing refused; connection closed")); n != 2*len(framingAttacks) {
		t.Fatalf("%d framing refusals logged, want %d", n, 2*len(framingAttacks))
	}
}

// TestTLSFramingKeepsRequestTLS: with the framing tracker under net/http
// on HTTP/1.1, and with HTTP/2, the request still knows it came over TLS:
// HSTS is sent (secheaders reads r.TLS), the upstream gets
// X-Forwarded-Proto: https, and a keep-alive connection serves several
// requests. Plain HTTP gets no HSTS (checked by the control case).
func TestTLSFramingKeepsRequestTLS(t *testing.T) {
	e := startTLS(t, "")
	for _, h2 := range []bool{false, true} {
		t.Run("h2="+strconv.FormatBool(h2), func(t *testing.T) {
			c := e.client(h2)
			for i := range 3 {
				res, err := c.Get(e.base + "/users/" + strconv.Itoa(i+1))
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				if wantMajor := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != wantMajor {
					t.Fatalf("protocol %s, want HTTP/%d", res.Proto, wantMajor)
				}
				if res.TLS == nil || res.Header.Get("Strict-Transport-Security") == "" {
					t.Fatalf("no HSTS over TLS: %v", res.Header)
				}
				e.up.mu.Lock()
				proto := e.up.last.Header.Get("X-Forwarded-Proto")
				e.up.mu.Unlock()
				if proto != "https" {
					t.Fatalf("X-Forwarded-Proto %q, want https", proto)
				}
			}
		})
	}
	// Control: the same config over plain HTTP sends no HSTS.
	p := start(t, "")
	res, _ := p.do("GET", "/users/1", nil, nil)
	if res.StatusCode != 200 || res.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain HTTP: %d, HSTS %q", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
	}
}

// h2Request sends one HTTP/2 request with raw frames (header fields as
// given, no client-side checks) and body, and returns the response status
// (0 if the stream was reset) and the reset code.
func h2Request(t *testing.T, c *tls.Conn, fields [][2]string, body []byte) (status int, reset http2.ErrCode) {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range fields {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: body == nil}); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		if err := fr.WriteData(1, true, body); err != nil {
			t.Fatal(err)
		}
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hf {
				if h.Name == ":status" {
					status, _ = strconv.Atoi(h.Value)
					return status, 0
				}
			}
		case *http2.RSTStreamFrame:
			return 0, f.ErrCode
		case *http2.GoAwayFrame:
			return 0, f.ErrCode
		}
	}
}

// TestAttackH2FramingTLS: over HTTP/2 the message length is the DATA
// frames; a content-length that disagrees with them, or a
// Transfer-Encoding field, is refused by Go's HTTP/2 server (stream reset
// or 400) and the request never reaches the upstream. A well-formed POST
// with the same raw frames is served (control).
func TestAttackH2FramingTLS(t *testing.T) {
	e := startTLS(t, "")
	base := [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "gw.test"}, {":path", "/users"}, {"content-type", "application/json"}}
	for _, tc := range []struct {
		name   string
		fields [][2]string
		body   []byte
		ok     bool
	}{
		{"well-formed (control)", [][2]string{{"content-length", "2"}}, []byte("{}"), true},
		{"content-length shorter than the data", [][2]string{{"content-length", "2"}}, []byte(`{}` + "\n" + `{"a":1}`), false},
		{"content-length longer than the data", [][2]string{{"content-length", "60"}}, []byte("{}"), false},
		{"transfer-encoding chunked", [][2]string{{"transfer-encoding", "chunked"}}, []byte("{}"), false},
		{"transfer-encoding with content-length", [][2]string{{"transfer-encoding", "chunked"}, {"content-length", "2"}}, []byte("{}"), false},
		{"connection header", [][2]string{{"connection", "keep-alive"}}, []byte("{}"), false},
		{"two content-lengths", [][2]string{{"content-length", "2"}, {"content-length", "9"}}, []byte("{}"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.requests.Load()
			c := e.dial(t, "h2")
			if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
				t.Fatalf("ALPN %q", p)
			}
			status, code := h2Request(t, c, append(append([][2]string{}, base...), tc.fields...), tc.body)
			reached := e.up.requests.Load() - before
			if tc.ok {
				if status != 200 || reached != 1 {
					t.Fatalf("status %d (reset %v), upstream %d; want 200 and 1", status, code, reached)
				}
				return
			}
			if status == 200 || reached != 0 {
				t.Fatalf("status %d (reset %v), upstream got %d requests; want refused", status, code, reached)
			}
		})
	}
}

// TestTLSHandshakeDoesNotBlockAccept: clients that connect and never send
// a ClientHello (or send garbage) do not stop others from being served.
func TestTLSHandshakeDoesNotBlockAccept(t *testing.T) {
	e := startTLS(t, "")
	for range 4 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	junk, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	_, _ = io.WriteString(junk, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := e.client(false).Get(e.base + "/users/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// Plain HTTP on the TLS port: net/http's short 400, then closed.
	_ = junk.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(junk)
	if err != nil || !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") {
		t.Fatalf("plain HTTP on the TLS port: %q, %v", b, err)
	}
}

// TestTLSFramingStrictnessFollowsReload: over TLS too, a reload turns
// request.strict_framing off and on, and rotates the certificate.
func TestTLSFramingStrictnessFollowsReload(t *testing.T) {
	e := startTLS(t, "")
	fold := "GET /users/1 HTTP/1.1\r\nHost: gw.test\r\nX-Note: one\r\n two\r\nConnection: close\r\n\r\n"
	for i, step := range []struct {
		extra string
		want  int
	}{
		{"", 400},
		{"request:\n  strict_framing: false\n", 200},
		{"request:\n  strict_framing: true\n", 400},
	} {
		if i > 0 {
			cert, key, pool := testCert(t, t.TempDir()) // a new certificate with each reload
			writeFile(t, e.cfgPath, configYAML(e.up.URL, "tls:\n  cert_file: "+strconv.Quote(cert)+"\n  key_file: "+strconv.Quote(key)+"\n"+step.extra))
			res, err := http.Post(e.admin+"/-/reload", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if err := <-e.reloaded; err != nil || res.StatusCode != 200 {
				t.Fatalf("reload: %d %v", res.StatusCode, err)
			}
			e.pool = pool
		}
		resps, closed := tlsExchange(t, e.dial(t, "http/1.1"), fold)
		if len(resps) != 1 || resps[0].StatusCode != step.want || !closed {
			t.Fatalf("config %q: %d responses (closed %v), want one %d", step.extra, len(resps), closed, step.want)
		}
	}
}

// TestTLSGracefulShutdownDrains: a request in flight over HTTP/1.1 (through
// the framing tracker) and one over HTTP/2 both complete with 200 after
// shutdown starts; Run returns only after them, and new connections are
// refused meanwhile.
func TestTLSGracefulShutdownDrains(t *testing.T) {
	e := startTLS(t, "")
	type result struct {
		h2   bool
		code int
		err  error
	}
	resc := make(chan result, 2)
	for _, h2 := range []bool{false, true} {
		go func() {
			res, err := e.client(h2).Get(e.base + "/slow")
			if err != nil {
				resc <- result{h2: h2, err: err}
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			resc <- result{h2: h2, code: res.StatusCode}
		}()
	}
	<-e.up.started
	<-e.up.started // both in flight at the upstream
	e.cancel()
	for {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			break
		}
		c.Close()
		runtimeGosched()
	}
	select {
	case err := <-e.done:
		t.Fatalf("Run returned (%v) while requests were in flight", err)
	default:
	}
	close(e.up.release)
	for range 2 {
		r := <-resc
		if r.err != nil || r.code != 200 {
			t.Fatalf("in-flight request (h2 %v): %d %v", r.h2, r.code, r.err)
		}
	}
	err := <-e.done
	e.done <- err
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// BenchmarkTLSListener compares the handshake listener with framing (what
// Run uses) against tls.NewListener (what it used before) in front of a
// bare net/http server: "keepalive" is one GET on an open HTTP/1.1
// connection, "newconn" a TLS handshake plus one GET.
func BenchmarkTLSListener(b *testing.B) {
	cert, key, pool := testCert(b, b.TempDir())
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		b.Fatal(err)
	}
	srvCfg := &tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: []string{"h2", "http/1.1"}}
	for _, mode := range []string{"tls.NewListener", "handshake+framing"} {
		raw, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var ln net.Listener
		if mode == "tls.NewListener" {
			ln = tls.NewListener(raw, srvCfg)
		} else {
			fl := newFramingListener(raw, 0, func() bool { return true }, func(net.Conn, string) {})
			ln = newHandshakeListener(raw, srvCfg, 5*time.Second, fl.(*framingListener).wrapTLS, slog.New(slog.DiscardHandler))
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				b.Error("r.TLS is nil")
			}
			_, _ = io.WriteString(w, "ok")
		}), TLSConfig: srvCfg}
		go func() { _ = srv.Serve(ln) }()
		url := "https://" + raw.Addr().String() + "/"
		for _, sub := range []string{"keepalive", "newconn"} {
			b.Run(mode+"/"+sub, func(b *testing.B) {
				var p http.Protocols
				p.SetHTTP1(true)
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &p, DisableKeepAlives: sub == "newconn"}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				b.ReportAllocs()
				for b.Loop() {
					res, err := c.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
		}
		_ = srv.Shutdown(context.Background())
	}
}
