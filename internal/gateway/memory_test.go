package gateway

import (
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
