package httpx

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBufferWriter(t *testing.T) {
	const max = 16
	tests := []struct {
		name       string
		decide     BufferState
		oversize   BufferState // returned by Oversize; BufferUndecided: nil Oversize
		cl         string      // Content-Length the handler announces
		writes     []string
		wantState  BufferState
		wantClient string // what reached the client before finish
		wantBody   string // Body() after the handler
		wantOver   int64  // atLeast passed to Oversize (0: not called)
	}{
		{name: "buffers", decide: BufferBuffering, writes: []string{"ab", "cd"}, wantState: BufferBuffering, wantBody: "abcd"},
		{name: "buffers exactly max", decide: BufferBuffering, writes: []string{strings.Repeat("a", max)}, wantState: BufferBuffering,
			wantBody: strings.Repeat("a", max)},
		{name: "passes", decide: BufferPassing, writes: []string{"ab", "cd"}, wantState: BufferPassing, wantClient: "abcd"},
		{name: "discards", decide: BufferDiscarding, writes: []string{"secret"}, wantState: BufferDiscarding},
		{name: "oversize write, nil Oversize fails closed", decide: BufferBuffering, oversize: BufferUndecided,
			writes: []string{"0123456789", "0123456789"}, wantState: BufferDiscarding},
		{name: "oversize write discards", decide: BufferBuffering, oversize: BufferDiscarding,
			writes: []string{"0123456789", "0123456789", "x"}, wantState: BufferDiscarding, wantOver: 20},
		{name: "oversize write passes held and rest", decide: BufferBuffering, oversize: BufferPassing,
			writes: []string{"0123456789", "abcdefghij", "XY"}, wantState: BufferPassing, wantClient: "0123456789abcdefghijXY", wantOver: 20},
		{name: "oversize content-length discards before any write", decide: BufferBuffering, oversize: BufferDiscarding, cl: "100",
			writes: []string{"0123"}, wantState: BufferDiscarding, wantOver: 100},
		{name: "oversize content-length passes", decide: BufferBuffering, oversize: BufferPassing, cl: "100",
			writes: []string{"0123"}, wantState: BufferPassing, wantClient: "0123", wantOver: 100},
		{name: "content-length within bound buffers", decide: BufferBuffering, oversize: BufferPassing, cl: "4",
			writes: []string{"0123"}, wantState: BufferBuffering, wantBody: "0123"},
		{name: "passing never calls oversize", decide: BufferPassing, oversize: BufferDiscarding, cl: "100",
			writes: []string{strings.Repeat("a", 40)}, wantState: BufferPassing, wantClient: strings.Repeat("a", 40)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var over int64
			var ov func(int64) BufferState
			if tc.oversize != BufferUndecided {
				ov = func(n int64) BufferState { over = n; return tc.oversize }
			}
			var decided int
			bw := NewBufferWriter(rec, max, func(code int) BufferState { decided = code; return tc.decide }, ov)
			if tc.cl != "" {
				bw.Header().Set("Content-Length", tc.cl)
			}
			bw.WriteHeader(http.StatusCreated)
			bw.WriteHeader(http.StatusTeapot) // ignored
			for _, w := range tc.writes {
				if n, err := bw.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if decided != http.StatusCreated || bw.Status() != http.StatusCreated {
				t.Errorf("Decide got %d, Status() = %d, want 201", decided, bw.Status())
			}
			if bw.State() != tc.wantState {
				t.Errorf("State() = %v, want %v", bw.State(), tc.wantState)
			}
			if got := rec.Body.String(); got != tc.wantClient {
				t.Errorf("client got %q, want %q", got, tc.wantClient)
			}
			if tc.wantClient != "" && rec.Code != http.StatusCreated {
				t.Errorf("client status %d, want 201", rec.Code)
			}
			if tc.wantState == BufferBuffering && string(bw.Body()) != tc.wantBody {
				t.Errorf("Body() = %q, want %q", bw.Body(), tc.wantBody)
			}
			if over != tc.wantOver {
				t.Errorf("Oversize(%d), want %d", over, tc.wantOver)
			}
		})
	}
}

func TestBufferWriterFlushOnlyWhenPassing(t *testing.T) {
	for _, st := range []BufferState{BufferBuffering, BufferDiscarding, BufferPassing} {
		t.Run(st.String(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			bw := NewBufferWriter(rec, 0, func(int) BufferState { return st }, nil)
			_, _ = bw.Write([]byte("x"))
			// Through http.ResponseController, as handlers do (Unwrap).
			_ = http.NewResponseController(bw).Flush()
			if rec.Flushed != (st == BufferPassing) {
				t.Errorf("Flushed = %v in state %v", rec.Flushed, st)
			}
		})
	}
}

// TestBufferWriterOverHTTP runs the writer in a real server: an
// informational 103 passes through, a buffered body is rewritten and sent
// with an exact Content-Length, and the default decision buffers.
func TestBufferWriterOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := NewBufferWriter(w, 1024, nil, nil)
		bw.Header().Set("Link", "</style.css>; rel=preload")
		bw.WriteHeader(http.StatusEarlyHints)
		bw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(bw, `{"password":"x","id":1}`)
		if bw.State() != BufferBuffering {
			t.Errorf("State() = %v, want buffering", bw.State())
		}
		bw.Send(0, []byte(`{"id":1}`))
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(bufio.NewReader(conn))
	got := string(raw)
	for _, want := range []string{"HTTP/1.1 103 Early Hints", "HTTP/1.1 200 OK", "Content-Length: 8\r\n", "\r\n\r\n{\"id\":1}"} {
		if !strings.Contains(got, want) {
			t.Errorf("response lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "password") {
		t.Errorf("buffered body reached the client:\n%s", got)
	}
}
