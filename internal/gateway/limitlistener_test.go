package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// withLimits adds lines (e.g. "  max_conns: 4\n") to the limits section of
// the config start wrote, before the server reads it.
func withLimits(lines string) envOpt {
	return func(so *ServerOptions) {
		b, err := os.ReadFile(so.ConfigPath)
		if err == nil {
			err = os.WriteFile(so.ConfigPath, bytes.Replace(b, []byte("  max_body: 1KiB\n"), []byte("  max_body: 1KiB\n"+lines), 1), 0o600)
		}
		if err != nil {
			panic(err)
		}
	}
}

const limitedConfig = "  max_conns: 2\n  max_header_bytes: 1KiB\n"

// refusedAttacks are requests the gateway answers and then closes on, sent
// by a client that keeps writing after them (up to 2 MiB): a header block
// over max_header_bytes (net/http's 431) and a TE+CL smuggling attempt (the
// framing tracker's 400).
var refusedAttacks = []struct {
	name, head string
	status     int
}{
	{"header over max_header_bytes", "GET /users/ok HTTP/1.1\r\nHost: gw.test\r\nX-Big: ", 431},
	{"TE+CL smuggling", "POST /users HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n", 400},
}

// readRefusal sends head and then keeps writing filler while it reads the
// answer to the end. It returns the bytes read and the read error: nil when
// the answer ended in EOF (the gateway half-closed), ECONNRESET when the
// gateway's close reached the client as a reset first.
func readRefusal(t *testing.T, c net.Conn, head string) ([]byte, error) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		filler := bytes.Repeat([]byte("a"), 16<<10)
		for range 128 { // 2 MiB: more than the gateway ever drains
			if _, err := c.Write(filler); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	_ = c.Close()
	wg.Wait()
	return got, err
}

func checkRefusal(t *testing.T, got []byte, err error, status int) {
	t.Helper()
	if err != nil {
		t.Fatalf("read error %v after %d bytes %q (the answer must end in EOF, not a reset)", err, len(got), got)
	}
	res, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
	if rerr != nil {
		t.Fatalf("no readable response: %v in %q", rerr, got)
	}
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d", res.StatusCode, status)
	}
}

// TestAttackRefusalReadableUnderMaxConns: with limits.max_conns set, a
// refused request's 431 or 400 reaches a client that is still sending as
// the answer followed by EOF, over plain HTTP and over TLS (ALPN http/1.1
// and none). Behind netutil.LimitListener the half-close was lost and the
// plain-HTTP client got ECONNRESET.
func TestAttackRefusalReadableUnderMaxConns(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		e := start(t, "", withLimits(limitedConfig))
		addr := strings.TrimPrefix(e.base, "http://")
		for _, tc := range refusedAttacks {
			t.Run(tc.name, func(t *testing.T) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readRefusal(t, c, tc.head)
				checkRefusal(t, got, err, tc.status)
			})
		}
	})
	t.Run("tls", func(t *testing.T) {
		e := startTLS(t, "", withLimits(limitedConfig))
		for _, alpn := range [][]string{{"http/1.1"}, nil} {
			for _, tc := range refusedAttacks {
				t.Run(strings.Join(append([]string{"alpn"}, alpn...), "=")+"/"+tc.name, func(t *testing.T) {
					got, err := readRefusal(t, e.dial(t, alpn...), tc.head)
					checkRefusal(t, got, err, tc.status)
				})
			}
		}
	})
}

// TestMaxConnsBoundsConnections: with max_conns: 2 and two connections
// open, a third connection's request is not served until one of the two
// closes; then it is. Plain and TLS.
func TestMaxConnsBoundsConnections(t *testing.T) {
	const req = "GET /users/ok HTTP/1.1\r\nHost: gw.test\r\n\r\n"
	check := func(t *testing.T, dial func() net.Conn) {
		open := func() (net.Conn, *bufio.Reader) {
			c := dial()
			t.Cleanup(func() { c.Close() })
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, req); err != nil {
				t.Error(err)
			}
			return c, bufio.NewReader(c)
		}
		read := func(c net.Conn, br *bufio.Reader, d time.Duration) (*http.Response, error) {
			_ = c.SetReadDeadline(time.Now().Add(d))
			res, err := http.ReadResponse(br, nil)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			return res, err
		}
		c1, br1 := open()
		c2, br2 := open()
		for _, x := range []struct {
			c  net.Conn
			br *bufio.Reader
		}{{c1, br1}, {c2, br2}} {
			if res, err := read(x.c, x.br, 5*time.Second); err != nil || res.StatusCode != 200 {
				t.Fatalf("first two connections: %v %v", res, err)
			}
		} // both kept alive: the cap is reached
		// The third connection's exchange (its TLS handshake included)
		// runs on its own; it must not finish while the two hold the cap.
		type result struct {
			res *http.Response
			err error
		}
		third := make(chan result, 1)
		go func() {
			c3, br3 := open()
			res, err := read(c3, br3, 10*time.Second)
			third <- result{res, err}
		}()
		select {
		case r := <-third:
			t.Fatalf("third connection served past max_conns 2: %v %v", r.res, r.err)
		case <-time.After(300 * time.Millisecond):
		}
		c1.Close()
		if r := <-third; r.err != nil || r.res.StatusCode != 200 {
			t.Fatalf("third connection after one closed: %v %v", r.res, r.err)
		}
	}
	t.Run("plain", func(t *testing.T) {
		e := start(t, "", withLimits(limitedConfig))
		check(t, func() net.Conn {
			c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
	})
	t.Run("tls", func(t *testing.T) {
		e := startTLS(t, "", withLimits(limitedConfig))
		check(t, func() net.Conn {
			// The handshake itself waits for a slot, so dial without it
			// and let the first read or write run it.
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			return tls.Client(c, &tls.Config{RootCAs: e.pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		})
	})
}
