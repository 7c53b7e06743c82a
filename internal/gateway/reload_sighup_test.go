package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const sighupSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`

// cyclicSpecs would make the parser recurse until the process dies.
var cyclicSpecs = []struct{ name, spec string }{
	{"schema ref cycle", `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A'}
`},
	{"response ref cycle", `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    get:
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {$ref: '#/components/responses/R'}}
components:
  responses:
    R: {$ref: '#/components/responses/S'}
    S: {$ref: '#/components/responses/R'}
`},
}

func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPSpecReplacedByCyclicDocument runs a real gateway process (see
// TestMain): its spec is
// replaced by a cyclic document, SIGHUP reloads, and the process keeps
// serving with the old pipeline (before the fix it died of a stack overflow).
func TestSIGHUPSpecReplacedByCyclicDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a gateway process")
	}
	bin := gatehouseProcess(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	dir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(rlFreePort(t))
	writeAtomic(t, filepath.Join(dir, "spec.yaml"), sighupSpec)
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeAtomic(t, cfg, "listen: \""+listen+"\"\nupstream: \""+up.URL+"\"\nspec: spec.yaml\nauthz: { default: public }\n")
	logs := &rlSyncWriter{w: &bytes.Buffer{}}
	cmd := exec.Command(bin, "serve", "-c", cfg, "--no-watch")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.w.(*bytes.Buffer).String())
		}
	})
	get := func() (int, error) {
		res, err := rlHTTP.Get("http://" + listen + "/users/1")
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	rlWaitFor(t, "gateway", func() bool { c, _ := get(); return c == 200 })
	logText := func() string {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return logs.w.(*bytes.Buffer).String()
	}
	for i, tc := range cyclicSpecs {
		writeAtomic(t, filepath.Join(dir, "spec.yaml"), tc.spec)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		rlWaitFor(t, "failed reload "+tc.name, func() bool {
			return strings.Count(logText(), "config reload failed") == i+1
		})
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s: the gateway exited on reload: %v", tc.name, err)
		default:
		}
		if !strings.Contains(logText(), "$ref cycle") {
			t.Fatalf("%s: the reload failure does not name the cycle", tc.name)
		}
		if c, err := get(); c != 200 {
			t.Fatalf("%s: GET /users/1 after SIGHUP = %d %v, want 200 from the old pipeline", tc.name, c, err)
		}
	}
}
