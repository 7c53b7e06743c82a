package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/problem"
)

// seen is what the test upstream received.
type seen struct {
	mu      sync.Mutex
	uri     string
	host    string
	headers http.Header
}

func (s *seen) get() (string, string, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uri, s.host, s.headers
}

func newUpstream(t *testing.T, h http.HandlerFunc) (*url.URL, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uri, s.host, s.headers = r.RequestURI, r.Host, r.Header.Clone()
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Server", "nginx/1.2.3")
		w.Header().Set("X-Powered-By", "Express")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, s
}

// front serves p behind a tiny stand-in for the router: the canonical path
// comes from the X-Test-Target header and the record carries a request ID.
func front(t *testing.T, p *Proxy) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: "req-123"})
		if tp := r.Header.Get("X-Test-Target"); tp != "" {
			ctx = WithTargetPath(ctx, tp)
			r.Header.Del("X-Test-Target")
		}
		p.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newProxy(t *testing.T, up *url.URL, trusted []string) (*Proxy, *logBuf) {
	t.Helper()
	tp, err := httpx.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{}
	p, err := New(Options{Upstream: up, Trusted: tp, Logger: slog.New(slog.NewJSONHandler(lb, nil)),
		ResponseHeaderTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, lb
}

func do(t *testing.T, method, rawURL string, hdr map[string][]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestForwardsCanonicalPath(t *testing.T) {
	up, s := newUpstream(t, nil)
	up.Path = "/api"
	p, _ := newProxy(t, up, nil)
	f := front(t, p)
	for _, tc := range []struct {
		name, sent, target, want string
	}{
		{"plain", "/users/1?x=1&y=%20", "/users/1", "/api/users/1?x=1&y=%20"},
		{"client spelling ignored", "/USERS/./1/../1//?a=b", "/users/1", "/api/users/1?a=b"},
		{"encoded slash kept", "/files/a%2fb", "/files/a%2Fb", "/api/files/a%2Fb"},
		{"no query", "/admin/../users/2", "/users/2", "/api/users/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Send the raw request line untouched by the client library.
			conn, err := net.Dial("tcp", strings.TrimPrefix(f.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "GET "+tc.sent+" HTTP/1.1\r\nHost: gw.example\r\nX-Test-Target: "+tc.target+"\r\nConnection: close\r\n\r\n")
			b, _ := io.ReadAll(conn)
			if !bytes.HasPrefix(b, []byte("HTTP/1.1 200")) {
				t.Fatalf("response: %s", b)
			}
			uri, host, _ := s.get()
			if uri != tc.want {
				t.Fatalf("upstream got %q, want %q", uri, tc.want)
			}
			if host != up.Host {
				t.Fatalf("upstream Host = %q, want %q", host, up.Host)
			}
		})
	}
}

func TestNoTargetFailsClosed(t *testing.T) {
	up, s := newUpstream(t, nil)
	p, _ := newProxy(t, up, nil)
	res := do(t, "GET", front(t, p).URL+"/x", nil)
	if res.StatusCode != 500 {
		t.Fatalf("status = %d, want 500", res.StatusCode)
	}
	if uri, _, _ := s.get(); uri != "" {
		t.Fatalf("upstream was reached with %q", uri)
	}
}

func TestForwardingHeaders(t *testing.T) {
	up, s := newUpstream(t, nil)
	spoof := map[string][]string{
		"X-Test-Target":     {"/x"},
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded_For":   {"6.6.6.7"},
		"Forwarded":         {"for=6.6.6.6;proto=https"},
		"X-Real-Ip":         {"6.6.6.6"},
		"True-Client-Ip":    {"6.6.6.6"},
		"Connection":        {"keep-alive, X-Secret-Hop"},
		"X-Secret-Hop":      {"hop"},
		"Keep-Alive":        {"timeout=5"},
		"Te":                {"gzip"},
		"Upgrade":           {"websocket"},
		"Proxy-Connection":  {"keep-alive"},
		"X_gatehouse_sub":   {"admin"},
	}
	t.Run("untrusted peer", func(t *testing.T) {
		p, _ := newProxy(t, up, nil)
		do(t, "GET", front(t, p).URL+"/x", spoof)
		_, _, h := s.get()
		if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want 127.0.0.1", got)
		}
		if got := h.Get("X-Real-Ip"); got != "127.0.0.1" {
			t.Errorf("X-Real-Ip = %q", got)
		}
		if got := h.Get("X-Forwarded-Proto"); got != "http" {
			t.Errorf("X-Forwarded-Proto = %q, want http", got)
		}
		if got := h.Get("X-Forwarded-Host"); got == "evil.example" {
			t.Errorf("X-Forwarded-Host spoofed")
		}
		// No public host or allowlist: no X-Forwarded-Host at all, and each
		// forwarding header the proxy sets holds exactly its one value.
		if v := h.Values("X-Forwarded-Host"); len(v) != 0 {
			t.Errorf("X-Forwarded-Host = %q without public_host or an allowlist", v)
		}
		for k, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Real-Ip": "127.0.0.1"} {
			if v := h.Values(k); len(v) != 1 || v[0] != want {
				t.Errorf("%s = %q, want [%q]", k, v, want)
			}
		}
		for _, k := range []string{"Forwarded", "True-Client-Ip", "X-Forwarded_for", "X-Secret-Hop", "Keep-Alive", "Te", "Upgrade", "Proxy-Connection", "X_gatehouse_sub"} {
			if v, ok := h[http.CanonicalHeaderKey(k)]; ok {
				t.Errorf("%s forwarded: %q", k, v)
			}
			if v, ok := h[k]; ok {
				t.Errorf("%s forwarded: %q", k, v)
			}
		}
	})
	t.Run("trusted peer", func(t *testing.T) {
		p, _ := newProxy(t, up, []string{"127.0.0.0/8"})
		do(t, "GET", front(t, p).URL+"/x", spoof)
		_, _, h := s.get()
		if got := h.Get("X-Forwarded-For"); got != "6.6.6.6, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want appended chain", got)
		}
		if got := h.Get("X-Real-Ip"); got != "6.6.6.6" {
			t.Errorf("X-Real-Ip = %q, want 6.6.6.6", got)
		}
		if got := h.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto = %q, want https from the trusted proxy", got)
		}
		if got := h.Get("Forwarded"); got == "" {
			t.Errorf("Forwarded from trusted proxy dropped")
		}
		if _, ok := h["X-Secret-Hop"]; ok {
			t.Errorf("hop-by-hop header forwarded from trusted peer")
		}
	})
}

func TestUpstream5xxRewritten(t *testing.T) {
	const leak = "panic: runtime error\n\tat db.go:42\nERROR: syntax error at or near \"SELECT * FROM users WHERE id='1''\" (SQLSTATE 42601)"
	up, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Debug-Trace", "db.go:42")
		w.Header().Set("Server", "gunicorn")
		w.WriteHeader(500)
		_, _ = io.WriteString(w, leak+strings.Repeat("x", 10000))
	})
	p, lb := newProxy(t, up, nil)
	for _, expose := range []bool{false, true} {
		name := map[bool]string{false: "generic", true: "expose details"}[expose]
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: "req-500"})
				ctx = WithTargetPath(ctx, "/boom")
				if expose {
					ctx = problem.WithExposeDetails(ctx)
				}
				p.ServeHTTP(w, r.WithContext(ctx))
			}))
			defer srv.Close()
			res := do(t, "GET", srv.URL+"/boom", nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 500 || res.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			var d problem.Details
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if d.RequestID != "req-500" {
				t.Fatalf("request_id = %q", d.RequestID)
			}
			leaked := strings.Contains(string(body), "SELECT") || strings.Contains(string(body), "db.go")
			if leaked != expose {
				t.Fatalf("body leaked=%v with expose=%v: %s", leaked, expose, body)
			}
			if res.Header.Get("X-Debug-Trace") != "" || res.Header.Get("Server") != "" {
				t.Fatalf("upstream headers leaked: %v", res.Header)
			}
		})
	}
	logs := lb.String()
	if !strings.Contains(logs, `"request_id":"req-500"`) || !strings.Contains(logs, "SQLSTATE 42601") || !strings.Contains(logs, `"upstream_status":500`) {
		t.Fatalf("log lacks the upstream detail: %s", logs)
	}
	if strings.Contains(logs, strings.Repeat("x", DefaultExcerpt+1)) {
		t.Fatal("log excerpt is not bounded")
	}
}

func TestFingerprintRemoved(t *testing.T) {
	up, _ := newUpstream(t, nil)
	p, _ := newProxy(t, up, nil)
	res := do(t, "GET", front(t, p).URL+"/x", map[string][]string{"X-Test-Target": {"/x"}})
	if res.StatusCode != 200 || res.Header.Get("Server") != "" || res.Header.Get("X-Powered-By") != "" {
		t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("dial refused 502", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		u, _ := url.Parse("http://" + addr)
		p, lb := newProxy(t, u, nil)
		res := do(t, "GET", front(t, p).URL+"/x", map[string][]string{"X-Test-Target": {"/x"}})
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 502 || strings.Contains(string(body), "refused") || strings.Contains(string(body), addr) {
			t.Fatalf("status %d body %s", res.StatusCode, body)
		}
		if !strings.Contains(lb.String(), "refused") || !strings.Contains(lb.String(), "req-123") {
			t.Fatalf("log lacks dial error: %s", lb.String())
		}
	})
	t.Run("slow upstream 504", func(t *testing.T) {
		release := make(chan struct{})
		up, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		tp, _ := httpx.ParseTrustedProxies(nil)
		p, err := New(Options{Upstream: up, Trusted: tp, ResponseHeaderTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		res := do(t, "GET", front(t, p).URL+"/x", map[string][]string{"X-Test-Target": {"/x"}})
		if res.StatusCode != 504 {
			t.Fatalf("status %d, want 504", res.StatusCode)
		}
	})
}

func TestNewRejectsBadUpstream(t *testing.T) {
	for _, s := range []string{"", "ftp://x", "/relative"} {
		u, _ := url.Parse(s)
		if _, err := New(Options{Upstream: u}); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
}

var _ = context.Background

// A client's Connection header names gateway-owned headers: without the
// route stage in front, the proxy itself must still forward them (they are
// set again after ReverseProxy's hop-by-hop removal).
func TestConnectionCannotDeleteOwnedHeaders(t *testing.T) {
	up, s := newUpstream(t, nil)
	p, err := New(Options{Upstream: up, OwnedHeaders: []string{"X-User-Scopes"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := front(t, p)
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("X-Test-Target", "/x")
	req.Header.Set("X-Request-Id", "req-123")
	req.Header.Set("X-Gatehouse-Subject", "alice")
	req.Header.Set("X-User-Scopes", "read")
	req.Header.Set("Connection", "X-Gatehouse-Subject, X-Request-Id, X-User-Scopes")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	_, _, h := s.get()
	for k, want := range map[string]string{"X-Gatehouse-Subject": "alice", "X-Request-Id": "req-123", "X-User-Scopes": "read"} {
		if got := h.Get(k); got != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
}

// The target path comes from WithTargetPath, else from the matched route's
// RawPath; a route without RawPath (built outside the gateway's router)
// gives none, so ServeHTTP refuses instead of forwarding the raw path.
func TestTargetPathSources(t *testing.T) {
	base, _ := gatehouse.NewRequestContext(context.Background(), "id")
	if p, ok := TargetPath(base); ok {
		t.Fatalf("TargetPath without a route = %q, true", p)
	}
	routed := gatehouse.WithRoute(base, &gatehouse.Route{Path: "/a b"})
	if p, ok := TargetPath(routed); ok {
		t.Fatalf("TargetPath of a route without RawPath = %q, true", p)
	}
	slot, _ := gatehouse.NewRequestContext(context.Background(), "id")
	gatehouse.SetRoute(slot, &gatehouse.Route{Path: "/a b", RawPath: "/a%20b"})
	if p, ok := TargetPath(slot); !ok || p != "/a%20b" {
		t.Fatalf("TargetPath from the route slot = %q, %v", p, ok)
	}
	if p, ok := TargetPath(WithTargetPath(slot, "/explicit")); !ok || p != "/explicit" {
		t.Fatalf("TargetPath with WithTargetPath = %q, %v, want /explicit", p, ok)
	}
}
