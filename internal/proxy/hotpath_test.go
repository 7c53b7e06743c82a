package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// countingListener counts the Write calls on the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) { c.n.Add(1); return c.Conn.Write(p) }

// frontCounting is front on a listener that counts the writes to clients.
func frontCounting(t *testing.T, p *Proxy) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := &httptest.Server{Listener: cl, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: "req-123"})
		p.ServeHTTP(w, r.WithContext(WithTargetPath(ctx, r.URL.Path)))
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, cl
}

// A response with a Content-Length leaves in one write (headers and body
// together), as from a plain Go server; the proxy used to flush after each
// copy (FlushInterval -1): a second system call per response.
func TestSizedResponseOneWrite(t *testing.T) {
	body := strings.Repeat("x", 400)
	up, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	})
	p, _ := newProxy(t, up, nil)
	base, cl := frontCounting(t, p)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const n = 5
	for i := range n {
		if _, err := io.WriteString(c, "GET /items/1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(got) != body {
			t.Fatalf("request %d: status %d, %d body bytes", i, res.StatusCode, len(got))
		}
	}
	if w := cl.writes.Load(); w != n {
		t.Errorf("%d responses took %d writes to the client, want %d (one each)", n, w, n)
	}
}

// Streams still stream: an event-stream response, and one of unknown
// length, reach the client while the upstream is still writing.
func TestStreamsFlushed(t *testing.T) {
	for _, tc := range []struct{ name, ctype string }{
		{"event-stream", "text/event-stream; charset=utf-8"},
		{"unknown length", "application/x-ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			up, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = io.WriteString(w, "data: first\n\n")
				w.(http.Flusher).Flush()
				select { // the rest only once the client has seen the first part
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "data: second\n\n")
			})
			p, _ := newProxy(t, up, nil)
			base, _ := frontCounting(t, p)
			res, err := http.Get(base + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Fatalf("first line %q, %v: want it before the upstream finished", line, err)
			}
			close(release)
			rest, _ := io.ReadAll(br)
			if !strings.Contains(string(rest), "data: second") {
				t.Fatalf("rest %q lacks the second event", rest)
			}
		})
	}
}

// A request the client abandons while the upstream works is recorded as
// 499 (nginx's client closed request) with no body, and logged at Info as
// client_gone: not a 502, so it does not count as an upstream failure.
func TestClientGoneIs499(t *testing.T) {
	arrived := make(chan struct{})
	up, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	p, lb := newProxy(t, up, nil)
	ctx, cancel := context.WithCancel(gatehouse.NewRecordContext(context.Background(), &gatehouse.Record{RequestID: "req-gone"}))
	r := httptest.NewRequest("GET", "/slow", nil).WithContext(WithTargetPath(ctx, "/slow"))
	go func() { <-arrived; cancel() }()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	if w.Code != StatusClientClosedRequest || w.Body.Len() != 0 {
		t.Fatalf("abandoned request: status %d body %q, want 499 and no body", w.Code, w.Body)
	}
	logs := lb.String()
	if !strings.Contains(logs, `"kind":"client_gone"`) || !strings.Contains(logs, `"level":"INFO"`) || strings.Contains(logs, `"level":"WARN"`) {
		t.Fatalf("log %s: want client_gone at INFO", logs)
	}
	// A real upstream failure is still a 502.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	up2, _ := newUpstream(t, nil)
	up2.Host = addr
	p2, _ := newProxy(t, up2, nil)
	r2 := httptest.NewRequest("GET", "/x", nil)
	r2 = r2.WithContext(WithTargetPath(r2.Context(), "/x"))
	w2 := httptest.NewRecorder()
	p2.ServeHTTP(w2, r2)
	if w2.Code != http.StatusBadGateway {
		t.Fatalf("refused upstream: status %d, want 502", w2.Code)
	}
}
