package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

const reloadLimits = `  limits:
    - { name: per-ip, operations: [listThings], key: ip, rate: "%s", burst: 3 }
  login:
    operations: [login]
    account_field: /username
    lockout: { after_failures: 2, base: 1h, max: 2h }`

// TestRateLimitStateSurvivesReload: an attacker who has used up a bucket,
// or locked an account, gets no fresh start from a config reload (POST
// /-/reload, as a file edit or SIGHUP does) while the limit definitions are
// unchanged; a changed definition starts fresh.
func TestRateLimitStateSurvivesReload(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	dir := t.TempDir()
	cfgPath := rlWriteConfig(t, dir, "127.0.0.1:0", up.URL, fmt.Sprintf(reloadLimits, "3/h"), "")
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(context.Background(), gateway.ServerOptions{ConfigPath: cfgPath, PublicListener: pub,
		AdminListener: adm, EnableReload: true, Now: clk.Now, LogOutput: io.Discard, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := "http://" + pub.Addr().String()
	reload := func() {
		t.Helper()
		resp, err := http.Post("http://"+adm.Addr().String()+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload: %d %s", resp.StatusCode, b)
		}
	}
	get := func() int { return rlDo(t, "GET", base+"/things", nil, "").StatusCode }

	for i := range 3 {
		if c := get(); c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	up.status.Store(401)
	for range 2 {
		rlDo(t, "POST", base+"/login", nil, `{"username":"victim","password":"x"}`)
	}
	up.status.Store(200)
	if c := get(); c != 429 {
		t.Fatalf("bucket used up: %d, want 429", c)
	}
	if c := rlDo(t, "POST", base+"/login", nil, `{"username":"victim"}`).StatusCode; c != 429 {
		t.Fatalf("account locked: %d, want 429", c)
	}

	// Reload the same definitions (the file is rewritten, as an editor does).
	p0 := srv.Pipeline()
	rlWriteConfig(t, dir, "127.0.0.1:0", up.URL, fmt.Sprintf(reloadLimits, "3/h"), "log: { level: debug }")
	reload()
	if srv.Pipeline() == p0 {
		t.Fatal("reload did not swap the pipeline")
	}
	if c := get(); c != 429 {
		t.Fatalf("after a reload with the same limits: %d, want 429 (counters kept)", c)
	}
	if c := rlDo(t, "POST", base+"/login", nil, `{"username":"victim"}`).StatusCode; c != 429 {
		t.Fatalf("after a reload with the same lockout: %d, want 429 (lock kept)", c)
	}

	// A changed rate is a new definition: its bucket starts fresh; the
	// unchanged lockout keeps its lock.
	rlWriteConfig(t, dir, "127.0.0.1:0", up.URL, fmt.Sprintf(reloadLimits, "4/h"), "")
	reload()
	if c := get(); c != 200 {
		t.Fatalf("after a reload with a changed rate: %d, want 200 (fresh bucket)", c)
	}
	if c := rlDo(t, "POST", base+"/login", nil, `{"username":"victim"}`).StatusCode; c != 429 {
		t.Fatalf("lockout unchanged by a rate change: %d, want 429", c)
	}
	// A changed lockout starts fresh too.
	cfg := strings.Replace(fmt.Sprintf(reloadLimits, "4/h"), "after_failures: 2", "after_failures: 3", 1)
	rlWriteConfig(t, dir, "127.0.0.1:0", up.URL, cfg, "")
	reload()
	if c := rlDo(t, "POST", base+"/login", nil, `{"username":"victim"}`).StatusCode; c != 200 {
		t.Fatalf("after a changed lockout: %d, want 200 (fresh)", c)
	}
}

// TestRateLimitStateSharedBuilds: two Builds of the same config with one
// gateway.LimitState share counters (what a Server does on reload); without
// it each Build starts empty.
func TestRateLimitStateSharedBuilds(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	path := rlWriteConfig(t, t.TempDir(), "127.0.0.1:0", up.URL, fmt.Sprintf(reloadLimits, "3/h"), "")
	cfg, err := config.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	state := gateway.NewLimitState()
	codes := func(deps gateway.Deps, n int) string {
		p, err := gateway.Build(context.Background(), cfg, deps)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		var out []string
		for range n {
			req, _ := http.NewRequest("GET", "/things", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			req.RequestURI = "/things"
			w := &codeWriter{h: http.Header{}}
			p.ServeHTTP(w, req)
			out = append(out, fmt.Sprint(w.code))
		}
		return strings.Join(out, " ")
	}
	if got := codes(gateway.Deps{Now: clk.Now, Limits: state}, 2); got != "200 200" {
		t.Fatalf("first build: %s", got)
	}
	if got := codes(gateway.Deps{Now: clk.Now, Limits: state}, 2); got != "200 429" {
		t.Fatalf("second build, same state: %s, want 200 429", got)
	}
	if got := codes(gateway.Deps{Now: clk.Now}, 2); got != "200 200" {
		t.Fatalf("build without state: %s, want a fresh 200 200", got)
	}
	_ = os.Remove(path)
}

type codeWriter struct {
	h    http.Header
	code int
}

func (w *codeWriter) Header() http.Header { return w.h }
func (w *codeWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return len(p), nil
}
func (w *codeWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
