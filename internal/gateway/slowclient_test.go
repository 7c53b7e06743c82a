package gateway

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Listener timeouts small enough for a test; the attack bounds below are
// several times these so a loaded CI machine does not flake.
const slowTimeouts = "  read_header: 300ms\n  read: 1s\n  write: 1s\n  idle: 500ms\n"

// countingListener records the most connections open at once.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// closedWithin reports whether the server ends c (EOF or reset) within
// bound, reading and discarding what it sends.
func closedWithin(c net.Conn, bound time.Duration) (int64, bool) {
	_ = c.SetReadDeadline(time.Now().Add(bound))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return n, false
	}
	return n, true
}

// wellBehaved asserts a normal client gets 200 within bound.
func wellBehaved(t *testing.T, base string, bound time.Duration) {
	t.Helper()
	t0 := time.Now()
	res, body, err := get(t, base+"/users/ok", bound)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("well-behaved client during the attack: %v %v %s", err, res, body)
	}
	t.Logf("well-behaved client served in %v", time.Since(t0).Round(time.Millisecond))
}

func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSlowClientHeadersDripped(t *testing.T) {
	base, _ := startAt(t, faultUpstream(t), slowTimeouts, "")
	c := dial(t, base)
	go func() { // slowloris: one header byte every 20ms, forever
		_, _ = io.WriteString(c, "GET /users/ok HTTP/1.1\r\nHost: gw\r\n")
		for {
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	wellBehaved(t, base, 2*time.Second)
	if _, ok := closedWithin(c, 5*time.Second); !ok {
		t.Fatal("dripped headers held the connection beyond read_header")
	}
}

func TestSlowClientBodyDripped(t *testing.T) {
	base, _ := startAt(t, faultUpstream(t), slowTimeouts, "")
	c := dial(t, base)
	go func() {
		_, _ = io.WriteString(c, "POST /users HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{")
		for {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	wellBehaved(t, base, 2*time.Second)
	if _, ok := closedWithin(c, 5*time.Second); !ok {
		t.Fatal("dripped body held the connection beyond read")
	}
}

func TestSlowClientReaderOfResponse(t *testing.T) {
	base, logs := startAt(t, faultUpstream(t), slowTimeouts, "")
	c := dial(t, base)
	_, _ = io.WriteString(c, "GET /users/big HTTP/1.1\r\nHost: gw\r\n\r\n")
	time.Sleep(1500 * time.Millisecond) // read nothing past write (1s)
	wellBehaved(t, base, 2*time.Second)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 12)
	if _, err := io.ReadFull(c, head); err != nil || string(head) != "HTTP/1.1 200" {
		t.Fatalf("response head %q: %v", head, err)
	}
	n, ok := closedWithin(c, 5*time.Second)
	if !ok {
		t.Fatalf("slow reader held the connection beyond write (%d bytes)", n)
	}
	if n >= 16<<20 {
		t.Fatalf("slow reader got the whole %d bytes: write timeout not enforced", n)
	}
	t.Logf("slow reader received %d of %d bytes before the close", n, 16<<20)
	// the gateway side: the exchange was cut at the write timeout
	var cut bool
	for _, l := range logs.lines("request") {
		if l["path"] == "/users/big" && l["aborted"] == true && l["latency_ms"].(float64) < 3000 {
			cut = true
		}
	}
	if !cut {
		t.Fatalf("no aborted access line for the slow reader:\n%s", logs.String())
	}
}

func TestSlowClientIdleKeepAlive(t *testing.T) {
	base, _ := startAt(t, faultUpstream(t), slowTimeouts, "")
	c := dial(t, base)
	_, _ = io.WriteString(c, "GET /users/ok HTTP/1.1\r\nHost: gw\r\n\r\n")
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("first response: %v %q", err, buf[:n])
	}
	// then idle on the kept-alive connection
	if _, ok := closedWithin(c, 5*time.Second); !ok {
		t.Fatal("idle keep-alive connection held beyond idle")
	}
}

func TestSlowClientManyIdleConnsCapped(t *testing.T) {
	const maxConns, attackers = 16, 64
	cl := &countingListener{}
	base, _ := startAt(t, faultUpstream(t), slowTimeouts, "  max_conns: 16\n",
		func(l net.Listener) net.Listener { cl.Listener = l; return cl })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opened atomic.Int64
	for range attackers {
		wg.Add(1)
		go func() { // open, say nothing, reopen when closed
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
				if err != nil {
					continue
				}
				opened.Add(1)
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	wellBehaved(t, base, 5*time.Second)
	close(stop)
	wg.Wait()
	if p := cl.peak.Load(); p > maxConns {
		t.Fatalf("peak open connections %d > max_conns %d", p, maxConns)
	}
	t.Logf("attack connections opened: %d; peak open at the gateway: %d (max_conns %d)", opened.Load(), cl.peak.Load(), maxConns)
}
