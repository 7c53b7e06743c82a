package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each Write to the output as one call.
type sink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
	block chan struct{} // when set, Write waits for it
}

func (s *sink) Write(p []byte) (int, error) {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.buf.Write(p)
}

func (s *sink) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.calls
}

func TestBuffersUntilFlush(t *testing.T) {
	s := &sink{}
	w := New(s, 1<<10, 1<<20)
	w.Start(0, make(chan time.Time)) // never ticks
	defer w.Close()
	for i := range 5 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if out, calls := s.snapshot(); calls != 0 || out != "" {
		t.Fatalf("before Flush: %d writes (%q), want none", calls, out)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out, calls := s.snapshot()
	if calls != 1 || out != "line 0\nline 1\nline 2\nline 3\nline 4\n" {
		t.Fatalf("after Flush: %d writes %q, want 1 write of 5 lines in order", calls, out)
	}
}

func TestCloseLosesNothingAndWritesThrough(t *testing.T) {
	s := &sink{}
	w := New(s, 1<<20, 1<<20)
	fmt.Fprintf(w, "before start\n") // written through
	if out, _ := s.snapshot(); out != "before start\n" {
		t.Fatalf("before Start: %q, want the line written through", out)
	}
	w.Start(0, make(chan time.Time))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(w, "g%d-%d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "after close\n")
	out, _ := s.snapshot()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 802 || lines[0] != "before start" || lines[801] != "after close" {
		t.Fatalf("got %d lines (first %q, last %q), want 1+800+1 in order", len(lines), lines[0], lines[len(lines)-1])
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("line %q written twice", l)
		}
		seen[l] = true
	}
}

func TestRunFlushesOnTickAndSize(t *testing.T) {
	s := &sink{}
	w := New(s, 64, 1<<20)
	tick := make(chan time.Time)
	w.Start(0, tick)

	fmt.Fprintf(w, "short\n")
	tick <- time.Time{}
	tick <- time.Time{} // the second send returns only after the first flush finished
	if out, _ := s.snapshot(); out != "short\n" {
		t.Fatalf("after a tick: %q, want the line", out)
	}
	// Reaching the flush size wakes Run without a tick.
	fmt.Fprintf(w, "%s\n", strings.Repeat("x", 80))
	for i := 0; ; i++ {
		if out, _ := s.snapshot(); strings.Contains(out, "xxx") {
			break
		}
		if i > 1e6 {
			t.Fatal("a full buffer was not flushed without a tick")
		}
		runtimeGosched()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedWhenOutputBlocks(t *testing.T) {
	s := &sink{block: make(chan struct{})}
	w := New(s, 16, 100)
	w.Start(0, make(chan time.Time))
	flushed := make(chan error)
	fmt.Fprintf(w, "first record\n")
	go func() { flushed <- w.Flush() }() // stuck in the output
	// Writes never block and memory stays bounded while the output is stuck.
	for i := range 1000 {
		if _, err := fmt.Fprintf(w, "record %04d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	pending, dropped := len(w.buf), w.dropped
	w.mu.Unlock()
	if pending > 100 || dropped == 0 {
		t.Fatalf("pending %d bytes, dropped %d: want at most 100 bytes and some dropped", pending, dropped)
	}
	close(s.block)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, _ := s.snapshot()
	if !strings.HasPrefix(out, "first record\n") || !strings.Contains(out, fmt.Sprintf(`"dropped":%d}`, dropped)) {
		t.Fatalf("output %q lacks the first record or the dropped count %d", out, dropped)
	}
}
