package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genConfig is the config of generation g: the two generations differ in a
// response header (headers.add), so a client can tell which config served it.
func genConfig(upstream string, g int) string {
	gen := []string{"a", "b"}[g%2]
	return configYAML(upstream, fmt.Sprintf("headers:\n  add:\n    X-Config-Gen: %q\n", gen))
}

// TestReload100TimesUnderLoad reloads the config 100 times through POST
// /-/reload, alternating between two configs, while 8 clients hammer the
// public listener over loopback. Every request must come back 200 (no
// transport error, no 503 from a pipeline closing under it), each reload
// must take effect for the very next request, and the load must have
// seen both configs.
func TestReload100TimesUnderLoad(t *testing.T) {
	e := start(t, "headers:\n  add:\n    X-Config-Gen: \"a\"\n")
	const reloads = 100
	var ok, failed atomic.Int64
	var firstFail atomic.Value
	var mu sync.Mutex
	seen := map[string]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int64{}
			defer func() {
				mu.Lock()
				for k, v := range local {
					seen[k] += v
				}
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(e.base + "/users/1")
				if err != nil {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				gen := res.Header.Get("X-Config-Gen")
				if res.StatusCode != 200 || (gen != "a" && gen != "b") {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, fmt.Sprintf("%s X-Config-Gen=%q", res.Status, gen))
					continue
				}
				ok.Add(1)
				local[gen]++
			}
		}()
	}
	adminClient := &http.Client{Timeout: 20 * time.Second}
	began := time.Now()
	for i := 1; i <= reloads; i++ {
		old := e.srv.Pipeline()
		writeFile(t, e.cfgPath, genConfig(e.up.URL, i))
		res, err := adminClient.Post(e.admin+"/-/reload", "", nil)
		if err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		var body map[string]string
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != 200 || body["status"] != "reloaded" {
			t.Fatalf("reload %d: %d %v", i, res.StatusCode, body)
		}
		if err := <-e.reloaded; err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if e.srv.Pipeline() == old {
			t.Fatalf("reload %d did not swap the pipeline", i)
		}
		// The next request is served by the new config.
		res, err = client.Get(e.base + "/users/1")
		if err != nil {
			t.Fatalf("after reload %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if want := []string{"a", "b"}[i%2]; res.StatusCode != 200 || res.Header.Get("X-Config-Gen") != want {
			t.Fatalf("after reload %d: %d X-Config-Gen=%q, want 200 %q", i, res.StatusCode, res.Header.Get("X-Config-Gen"), want)
		}
	}
	elapsed := time.Since(began)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during %d reloads (first: %v), %d ok", failed.Load(), reloads, firstFail.Load(), ok.Load())
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("the load saw only one config: %v", seen)
	}
	if got := toFloat(e.srv.metrics.ReloadOK); got != 1 {
		t.Fatalf("gatehouse_config_last_reload_successful = %v", got)
	}
	if n := len(e.logs.lines("config reloaded")); n != reloads {
		t.Fatalf("%d reloads logged, want %d", n, reloads)
	}
	t.Logf("%d reloads in %v under load: %d requests (gen a %d, gen b %d), 0 failed", reloads, elapsed.Round(time.Millisecond), ok.Load(), seen["a"], seen["b"])
}
