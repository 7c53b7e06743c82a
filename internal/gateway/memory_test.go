package gateway

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// zeros is an endless body.
type zeros struct{ n, max int }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n >= z.max {
		return 0, io.EOF
	}
	if len(p) > z.max-z.n {
		p = p[:z.max-z.n]
	}
	for i := range p {
		p[i] = '['
	}
	z.n += len(p)
	return len(p), nil
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestMemoryBoundedUnderHugeAndDeepBodies floods the in-process gateway
// with 256 chunked 8 MiB bodies (2 GiB offered) that are also nested JSON
// "[[[[..." and 256 deep bodies within limits.max_body, 16 at a time, and
// asserts the heap after GC stays within a bound: bodies are cut at
// max_body, never buffered.
func TestMemoryBoundedUnderHugeAndDeepBodies(t *testing.T) {
	base, _ := startAt(t, faultUpstream(t), "", "")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	before := heapInuse()
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() { // peak HeapInuse during the flood (no forced GC)
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 512 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var body io.Reader
			if i%2 == 0 {
				body = &zeros{max: 8 << 20} // chunked: no Content-Length
			} else {
				body = strings.NewReader(strings.Repeat("[", 1000)) // deep, within max_body
			}
			req, _ := http.NewRequest("POST", base+"/users", body)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				return // the gateway may close mid-upload; the status is not the point
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			mu.Lock()
			codes[res.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	client.CloseIdleConnections()
	after := heapInuse()
	t.Logf("HeapInuse before %d, peak during %d, after GC %d (delta %d); statuses %v",
		before, peak, after, int64(after)-int64(before), codes)
	if codes[200]+codes[201] > 0 {
		t.Fatalf("an oversized or deep body reached the upstream: %v", codes)
	}
	const bound = 32 << 20
	if peak > before+2*bound {
		t.Fatalf("heap peaked at %d under the flood (baseline %d, bound +%d)", peak, before, 2*bound)
	}
	if after > before+bound {
		t.Fatalf("heap grew %d bytes under the flood (bound %d)", after-before, bound)
	}
}

// TestRateLimitKeysBoundedUnderDistinctKeyFlood sends requests from 6000
// distinct client IPs (trusted X-Forwarded-For) and 3000 logins for
// distinct accounts through the real listener with max_keys: 1000: the
// shared in-memory store must hold at most 1000 keys (least recently used
// evicted), however many distinct keys arrive, and keep limiting a hot key.
func TestRateLimitKeysBoundedUnderDistinctKeyFlood(t *testing.T) {
	e := start(t, `trusted_proxies: ["127.0.0.0/8"]
rate_limits:
  store: memory
  max_keys: 1000
  limits:
    - { name: per-ip, key: ip, rate: "10/min", burst: 10 }
  login:
    operations: [createUser]
    account_field: /username
    per_account: { rate: "10/min", burst: 10 }
`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	send := func(method, path, xff, body string) int {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, e.base+path, rd)
		req.Header.Set("X-Forwarded-For", xff)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return -1
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	var wg sync.WaitGroup
	var bad sync.Map
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 6000; i += 8 {
				if c := send("GET", "/users/1", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), ""); c != 200 {
					bad.Store(c, i)
				}
				if i < 3000 {
					if c := send("POST", "/users", fmt.Sprintf("11.0.%d.%d", i>>8&255, i&255), fmt.Sprintf(`{"username":"user%d"}`, i)); c != 200 {
						bad.Store(c, i)
					}
				}
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("status %v (request %v): every distinct key is fresh and must pass", k, v)
		return true
	})
	st := e.srv.limits.memoryStore(1000)
	n, ev := st.Len(), st.Evictions()
	t.Logf("9000 distinct IP keys + 3000 distinct accounts: store holds %d keys, %d evicted", n, ev)
	if n > 1000 {
		t.Fatalf("the memory store holds %d keys, max_keys is 1000", n)
	}
	if ev < 8000 {
		t.Fatalf("only %d evictions for 12000 distinct keys into 1000 slots", ev)
	}
	// The cap still limits: one hot IP gets its burst of 10, then 429.
	for i := range 11 {
		c := send("GET", "/users/1", "192.0.2.7", "")
		if i < 10 && c != 200 || i == 10 && c != 429 {
			t.Fatalf("hot key request %d: %d", i, c)
		}
	}
}
