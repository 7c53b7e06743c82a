package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/problem"
)

// faultUpstream is a raw TCP upstream: the user_id of GET /users/{id}
// picks how it misbehaves.
func faultUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFault(c, stop)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveFault(c net.Conn, stop chan struct{}) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	mode := strings.TrimPrefix(req.URL.Path, "/users/")
	switch mode {
	case "big": // 16 MiB, for slow readers
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 16777216\r\n\r\n")
		buf := make([]byte, 64<<10)
		for range 256 {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	case "ok":
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}")
	case "slow": // no response headers within upstream_response_header
		select {
		case <-stop:
		case <-time.After(5 * time.Second):
		}
	case "reset": // RST before any byte of the response
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case "close": // orderly close before any byte of the response
	case "garbage":
		_, _ = io.WriteString(c, "\x00\x01\x02 not http at all \xff\xfe\r\n\r\n")
	case "badstatus":
		_, _ = io.WriteString(c, "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
	case "badheader":
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n")
	case "truncchunked": // headers fine, chunked body cut mid-chunk
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n{\"ok\":tr")
	case "badchunk":
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
	case "shortbody": // Content-Length promises more than is sent
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ok\":")
	case "midreset": // part of the body, then RST
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ok\":")
		time.Sleep(20 * time.Millisecond)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
}

// startAt runs a gateway over a real listener in front of upstreamURL.
// timeouts are the lines under timeouts: (shutdown is always 5s).
func startAt(t *testing.T, upstreamURL, timeouts, extra string, wrap ...func(net.Listener) net.Listener) (base string, logs *syncBuf) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), testSpec)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	// extra lines starting with "  max_" go under limits:
	var limits string
	if strings.HasPrefix(extra, "  max_") {
		limits, extra = extra, ""
	}
	cfg := strings.Replace(configYAML(upstreamURL, extra), "  shutdown: 5s\n", "  shutdown: 5s\n"+timeouts, 1)
	cfg = strings.Replace(cfg, "  max_body: 1KiB\n", "  max_body: 1KiB\n"+limits, 1)
	writeFile(t, cfgPath, cfg)
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pub.Addr().String()
	for _, w := range wrap {
		pub = w(pub)
	}
	logs = &syncBuf{}
	srv, err := NewServer(context.Background(), ServerOptions{ConfigPath: cfgPath,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), PublicListener: pub, AdminListener: adm})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + addr, logs
}

// get does one GET with a client-side bound, so a hang fails the test
// instead of stalling it.
func get(t *testing.T, url string, bound time.Duration) (*http.Response, string, error) {
	t.Helper()
	c := &http.Client{Timeout: bound, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// upstreamLeaks are strings of Go transport errors and upstream bytes that
// must never reach a client.
var upstreamLeaks = []string{"127.0.0.1", "connection", "refused", "reset", "EOF", "malformed", "chunk",
	"timeout awaiting", "dial", "not http", "No colon", "2x0", "net/http", "tcp"}

func TestFaultUpstreamMisbehaves(t *testing.T) {
	up := faultUpstream(t)
	base, logs := startAt(t, up, "  upstream_response_header: 300ms\n  upstream_dial: 300ms\n", "")
	for _, tc := range []struct {
		mode   string
		status int
	}{
		{"slow", 504}, {"reset", 502}, {"close", 502}, {"garbage", 502}, {"badstatus", 502},
		{"badheader", 502},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			res, body, err := get(t, base+"/users/"+tc.mode, 5*time.Second)
			if err != nil {
				t.Fatalf("no response (hang or abort): %v", err)
			}
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("status %d type %q body %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			problemOf(t, body)
			for _, s := range upstreamLeaks {
				if strings.Contains(body, s) {
					t.Fatalf("body leaks %q: %s", s, body)
				}
			}
			// the gateway keeps serving
			if res, body, err := get(t, base+"/users/ok", 5*time.Second); err != nil || res.StatusCode != 200 {
				t.Fatalf("after %s: %v %v %s", tc.mode, err, res, body)
			}
		})
	}
	// Faults after the status line was forwarded: the status cannot change
	// any more; the client must see a broken response (never a complete
	// one, never a hang) and the gateway keeps serving.
	for _, mode := range []string{"truncchunked", "badchunk", "shortbody", "midreset"} {
		t.Run(mode, func(t *testing.T) {
			res, body, err := get(t, base+"/users/"+mode, 5*time.Second)
			if err == nil && res.StatusCode == 200 {
				t.Fatalf("truncated upstream body delivered as a complete 200: %q", body)
			}
			if err != nil && strings.Contains(err.Error(), "Client.Timeout") {
				t.Fatalf("hang: %v", err)
			}
			if err == nil {
				for _, s := range upstreamLeaks {
					if strings.Contains(body, s) {
						t.Fatalf("body leaks %q: %s", s, body)
					}
				}
			}
			if res, body, err := get(t, base+"/users/ok", 5*time.Second); err != nil || res.StatusCode != 200 {
				t.Fatalf("after %s: %v %v %s", mode, err, res, body)
			}
		})
	}
	if len(logs.lines("upstream request failed")) == 0 {
		t.Fatalf("upstream failures not logged:\n%s", logs.String())
	}
}

func TestFaultUpstreamRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	base, logs := startAt(t, "http://"+addr, "  upstream_dial: 300ms\n", "")
	for range 3 {
		res, body, err := get(t, base+"/users/x", 5*time.Second)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		if res.StatusCode != 502 || res.Header.Get("Content-Type") != problem.ContentType {
			t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		problemOf(t, body)
		for _, s := range upstreamLeaks {
			if strings.Contains(body, s) {
				t.Fatalf("body leaks %q: %s", s, body)
			}
		}
	}
	var refused bool
	for _, l := range logs.lines("upstream request failed") {
		refused = refused || strings.Contains(l["error"].(string), "refused")
	}
	if !refused {
		t.Fatalf("the operator log lacks the cause:\n%s", logs.String())
	}
}
