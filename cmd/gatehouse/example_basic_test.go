package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// lockedBuf collects a child process's output.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func build(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	if err := testutil.GoBuild(out, pkg); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitHTTP polls url until it answers 200 or the deadline passes (process start-up).
func waitHTTP(t *testing.T, url string, logs *lockedBuf) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never became ready; logs:\n%s", url, logs.String())
}

// TestServeBasicExample builds the example upstream, runs `gatehouse serve
// -c` (this test binary as the command, see TestMain) on a copy of
// examples/basic/gatehouse.yaml, and checks the end-to-end promises.
func TestServeBasicExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example upstream and runs processes")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not in PATH")
	}
	dir := t.TempDir()
	gh, ghEnv := selfBinary(t)
	upBin := build(t, dir, "github.com/gatehouse/gatehouse/examples/basic/upstream", "upstream")

	upAddr, pubAddr, admAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	upLogs := &lockedBuf{}
	up := exec.Command(upBin, "-addr", upAddr)
	up.Stdout, up.Stderr = upLogs, upLogs
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Process.Kill(); _ = up.Wait() })

	cfg, err := os.ReadFile("../../examples/basic/gatehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := filepath.Abs("../../examples/basic/openapi.yaml")
	c := string(cfg)
	for old, repl := range map[string]string{
		`"127.0.0.1:8080"`:        fmt.Sprintf("%q", pubAddr),
		`"127.0.0.1:9090"`:        fmt.Sprintf("%q", admAddr),
		`"http://127.0.0.1:5000"`: fmt.Sprintf("%q", "http://"+upAddr),
		`"openapi.yaml"`:          fmt.Sprintf("%q", spec),
	} {
		if !strings.Contains(c, old) {
			t.Fatalf("example config lacks %s", old)
		}
		c = strings.ReplaceAll(c, old, repl)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}

	logs := &lockedBuf{}
	gw := exec.Command(gh, "serve", "-c", cfgPath)
	gw.Env = ghEnv
	gw.Stdout, gw.Stderr = logs, logs
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = gw.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = gw.Process.Kill()
			<-exited
		}
	})
	waitHTTP(t, "http://"+upAddr+"/users", upLogs)
	waitHTTP(t, "http://"+admAddr+"/readyz", logs)

	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get("http://" + pubAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	type problemBody struct {
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}

	t.Run("declared route proxied", func(t *testing.T) {
		res, body := get("/users/1")
		if res.StatusCode != 200 || !strings.Contains(body, `"Ada"`) {
			t.Fatalf("GET /users/1 = %d %s", res.StatusCode, body)
		}
		if res.Header.Get("Server") != "" || res.Header.Get("X-Powered-By") != "" {
			t.Fatalf("fingerprint headers leaked: %v", res.Header)
		}
	})
	t.Run("undeclared route 404", func(t *testing.T) {
		res, body := get("/internal/admin")
		var p problemBody
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal([]byte(body), &p) != nil || p.RequestID == "" || strings.Contains(body, "secret") {
			t.Fatalf("GET /internal/admin = %d %s", res.StatusCode, body)
		}
	})
	t.Run("upstream 500 rewritten, trace logged", func(t *testing.T) {
		res, body := get("/reports/daily")
		var p problemBody
		if res.StatusCode != 500 || json.Unmarshal([]byte(body), &p) != nil || p.RequestID == "" {
			t.Fatalf("GET /reports/daily = %d %s", res.StatusCode, body)
		}
		if p.RequestID != res.Header.Get("X-Request-Id") {
			t.Fatalf("request id: body %q header %q", p.RequestID, res.Header.Get("X-Request-Id"))
		}
		for _, s := range []string{"goroutine", "reports.go", "SQLSTATE", "SELECT", "password_hash"} {
			if strings.Contains(body, s) {
				t.Fatalf("client saw %q: %s", s, body)
			}
		}
		// The child's stderr reaches logs through a copying goroutine: wait for it.
		var logged bool
		for deadline := time.Now().Add(10 * time.Second); !logged && time.Now().Before(deadline); {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, p.RequestID) && strings.Contains(line, "SQLSTATE 42601") && strings.Contains(line, "reports.go:87") {
					logged = true
				}
			}
			if !logged {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if !logged {
			t.Fatalf("trace not logged under %s:\n%s", p.RequestID, logs.String())
		}
	})

	if err := gw.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("gatehouse exited with %v\n%s", waitErr, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gatehouse did not exit on SIGTERM")
	}
}
