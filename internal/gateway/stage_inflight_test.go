package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

const inflightSpec = `openapi: 3.0.3
info: { title: slow, version: "1" }
paths:
  /slow:
    get:
      operationId: slowSearch
      responses: { "200": { description: ok } }
  /hang:
    get:
      operationId: hang
      responses: { "200": { description: ok } }
  /fast:
    get:
      operationId: fast
      responses: { "200": { description: ok } }
`

// slowUpstream holds /slow requests until released and /hang requests until
// the gateway gives up on them; /fast answers at once.
type slowUpstream struct {
	*httptest.Server
	arrived chan string // one value per /slow request that reached it
	release chan struct{}
	mu      sync.Mutex
	peak    int
	cur     int
}

func newSlowUpstream(t *testing.T) *slowUpstream {
	u := &slowUpstream{arrived: make(chan string, 64), release: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			u.mu.Lock()
			u.cur++
			u.peak = max(u.peak, u.cur)
			u.mu.Unlock()
			u.arrived <- r.Header.Get("X-Forwarded-For")
			select {
			case <-u.release:
			case <-r.Context().Done():
			}
			u.mu.Lock()
			u.cur--
			u.mu.Unlock()
		case "/hang":
			<-r.Context().Done() // answers only when the gateway hangs up
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(func() { close(u.release); u.Close() })
	return u
}

func inflightGateway(t *testing.T, up string, concurrency string, reg *prometheus.Registry) *httptest.Server {
	t.Helper()
	return inflightGatewayState(t, up, concurrency, reg, nil)
}

func inflightGatewayState(t *testing.T, up string, concurrency string, reg *prometheus.Registry, st *gateway.LimitState) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(inflightSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("upstream: %q\nspec: api.yaml\nauthz: { default: public }\ntrusted_proxies: [\"127.0.0.0/8\"]\nrate_limits:\n  concurrency:\n%s\n", up, concurrency)
	p := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Check(p)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	pl, err := gateway.Build(context.Background(), c, gateway.Deps{Registry: reg, Limits: st})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	srv := httptest.NewServer(pl)
	t.Cleanup(func() { srv.Close(); _ = pl.Close() })
	return srv
}

func getWith(t *testing.T, url, xff string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestInFlightCapHoldsOtherOperationsServed: a client floods a slow
// operation; once its cap (2) is in flight, further requests get 503 with
// Retry-After at once, never reaching the upstream, while other operations
// are still served; the cap frees as the upstream answers.
func TestInFlightCapHoldsOtherOperationsServed(t *testing.T) {
	up := newSlowUpstream(t)
	reg := prometheus.NewRegistry()
	srv := inflightGateway(t, up.URL, `    retry_after: 2s
    operations:
      slowSearch: { max_in_flight: 2 }`, reg)
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/slow", nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				codes <- resp.StatusCode
			}
		}()
	}
	<-up.arrived
	<-up.arrived // both slots are now held by the upstream
	for i := range 10 {
		resp, body := getWith(t, srv.URL+"/slow", fmt.Sprintf("203.0.113.%d", i+1))
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, `"status":503`) {
			t.Fatalf("over the cap: %d Retry-After %q %s, want 503 / 2", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if resp, _ := getWith(t, srv.URL+"/fast", ""); resp.StatusCode != 200 {
		t.Fatalf("another operation while the slow one is full: %d", resp.StatusCode)
	}
	if got := metricValue(t, reg, "gatehouse_upstream_in_flight_requests", "slowSearch"); got != 2 {
		t.Fatalf("in-flight gauge = %v, want 2", got)
	}
	up.release <- struct{}{}
	up.release <- struct{}{}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("held request: %d", c)
		}
	}
	// Slots are free again.
	go func() { <-up.arrived; up.release <- struct{}{} }()
	if resp, _ := getWith(t, srv.URL+"/slow", ""); resp.StatusCode != 200 {
		t.Fatalf("after the cap freed: %d", resp.StatusCode)
	}
	if up.peak != 2 {
		t.Fatalf("upstream saw %d concurrent slow requests, want at most 2", up.peak)
	}
	if n := counterValue(t, reg, "gatehouse_upstream_rejected_requests_total", "operation", "slowSearch"); /* labels sorted: cap, operation */ n != 10 {
		t.Fatalf("rejected counter = %v, want 10", n)
	}
}

// TestInFlightPerKey: one client (ip) cannot take more than its own cap of
// an operation, while another client still gets through; 429 is configurable.
func TestInFlightPerKey(t *testing.T) {
	up := newSlowUpstream(t)
	srv := inflightGateway(t, up.URL, `    status: 429
    operations:
      slowSearch: { max_in_flight: 10, per_key: { key: ip, max_in_flight: 1 } }`, prometheus.NewRegistry())
	done := make(chan int, 1)
	go func() {
		resp, _ := getWith(t, srv.URL+"/slow", "198.51.100.7")
		done <- resp.StatusCode
	}()
	<-up.arrived
	if resp, _ := getWith(t, srv.URL+"/slow", "198.51.100.7"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("same client over its cap: %d Retry-After %q, want 429 / 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	other := make(chan int, 1)
	go func() {
		resp, _ := getWith(t, srv.URL+"/slow", "198.51.100.8")
		other <- resp.StatusCode
	}()
	if got := <-up.arrived; got == "" {
		t.Fatal("the other client's request reached the upstream without X-Forwarded-For")
	}
	up.release <- struct{}{}
	up.release <- struct{}{}
	if a, b := <-done, <-other; a != 200 || b != 200 {
		t.Fatalf("held requests: %d %d", a, b)
	}
}

// TestInFlightTimeoutGeneric504: an operation over its timeout gets a
// generic 504 problem (no upstream detail), counted per operation.
func TestInFlightTimeoutGeneric504(t *testing.T) {
	up := newSlowUpstream(t)
	reg := prometheus.NewRegistry()
	srv := inflightGateway(t, up.URL, `    timeout: 30s
    operations:
      hang: { timeout: 50ms }`, reg)
	resp, body := getWith(t, srv.URL+"/hang", "")
	if resp.StatusCode != 504 || !strings.Contains(body, `"status":504`) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "deadline") {
		t.Fatalf("hanging operation: %d %s, want a generic 504", resp.StatusCode, body)
	}
	if n := counterValue(t, reg, "gatehouse_upstream_timeouts_total", "hang"); n != 1 {
		t.Fatalf("timeouts counter = %v, want 1", n)
	}
	if resp, _ := getWith(t, srv.URL+"/fast", ""); resp.StatusCode != 200 {
		t.Fatalf("fast operation under the global timeout: %d", resp.StatusCode)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	return metricValue(t, reg, name, labels...)
}

// metricValue returns the value of the series of name whose label values
// are labels (in label-name order).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			lp := m.GetLabel()
			for i, v := range labels {
				if i >= len(lp) || lp[i].GetValue() != v {
					continue series
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestInFlightCapSurvivesReload: requests in flight on the pipeline being
// replaced still count against the new pipeline's cap (one LimitState, as a
// Server keeps across reloads), so a reload cannot double a cap; a changed
// cap is a new definition.
func TestInFlightCapSurvivesReload(t *testing.T) {
	up := newSlowUpstream(t)
	st := gateway.NewLimitState()
	reg := prometheus.NewRegistry()
	conc := `    operations:
      slowSearch: { max_in_flight: 2 }`
	old := inflightGatewayState(t, up.URL, conc, reg, st)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); getWith(t, old.URL+"/slow", "") }()
	}
	<-up.arrived
	<-up.arrived
	reloaded := inflightGatewayState(t, up.URL, conc, reg, st)
	if resp, _ := getWith(t, reloaded.URL+"/slow", ""); resp.StatusCode != 503 {
		t.Fatalf("new pipeline while the old one holds the cap: %d, want 503", resp.StatusCode)
	}
	changed := inflightGatewayState(t, up.URL, strings.Replace(conc, "max_in_flight: 2", "max_in_flight: 3", 1), reg, st)
	// Once the third request arrives, release all three (the upstream
	// handlers take releases in any order).
	go func() {
		<-up.arrived
		for range 3 {
			up.release <- struct{}{}
		}
	}()
	if resp, _ := getWith(t, changed.URL+"/slow", ""); resp.StatusCode != 200 {
		t.Fatalf("changed cap: %d, want 200 (new definition)", resp.StatusCode)
	}
	wg.Wait()
	if resp := func() int {
		go func() { <-up.arrived; up.release <- struct{}{} }()
		r, _ := getWith(t, reloaded.URL+"/slow", "")
		return r.StatusCode
	}(); resp != 200 {
		t.Fatalf("after the old requests finished: %d, want 200", resp)
	}
}
