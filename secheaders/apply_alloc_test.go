package secheaders

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Apply sets each fixed header to its own value even though the values
// share one allocation: appending to one never changes another.
func TestApplySharedValuesIndependent(t *testing.T) {
	p := Strict()
	h := http.Header{"Content-Type": {"application/json"}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer x")
	p.Apply(h, r)
	want := map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Fatalf("%s = %q, want [%q]", k, got, v)
		}
	}
	h.Add("X-Content-Type-Options", "appended")
	for k, vs := range h {
		for _, v := range vs {
			if v == "appended" && k != "X-Content-Type-Options" {
				t.Fatalf("appending to X-Content-Type-Options changed %s: %q", k, vs)
			}
		}
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control = %q after an append to its neighbour", got)
	}
}

// Fingerprint headers go whatever the spelling of the key in the map.
func TestApplyFingerprintAnySpelling(t *testing.T) {
	h := http.Header{"Server": {"a"}, "x-powered-by": {"b"}, "X-Aspnet-Version": {"c"}, "X-AspNetMvc-Version": {"d"}, "X-Keep": {"e"}}
	Policy{RemoveFingerprint: true}.Apply(h, httptest.NewRequest("GET", "/", nil))
	if len(h) != 1 || h.Get("X-Keep") != "e" {
		t.Fatalf("after Apply: %v, want only X-Keep", h)
	}
}

func TestApplyAllocs(t *testing.T) {
	p := Strict()
	r := httptest.NewRequest("GET", "/", nil)
	h := http.Header{"Content-Type": {"application/json"}, "Server": {"x"}}
	n := testing.AllocsPerRun(200, func() {
		p.Apply(h, r)
		for k := range h {
			if k != "Content-Type" {
				delete(h, k)
			}
		}
		h["Server"] = []string{"x"}
	})
	if n > 2 { // the shared values, and the Server value the loop itself re-adds
		t.Errorf("Apply: %v allocs, want at most 2", n)
	}
}

// Handler's writers are recycled: each request gets its own request's
// headers (HSTS only over TLS), never the previous request's.
func TestHandlerRecycledWriters(t *testing.T) {
	h := Strict().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/write" {
			_, _ = w.Write([]byte("x"))
		}
	}))
	for i, c := range []struct {
		path     string
		tls      bool
		wantHSTS string
	}{
		{"/write", true, "max-age=31536000"},
		{"/", false, ""},
		{"/", true, "max-age=31536000"},
		{"/write", false, ""},
	} {
		r := httptest.NewRequest("GET", "https://api.example"+c.path, nil)
		if !c.tls {
			r = httptest.NewRequest("GET", "http://api.example"+c.path, nil)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security"); got != c.wantHSTS {
			t.Errorf("request %d (tls %v): HSTS = %q, want %q", i, c.tls, got, c.wantHSTS)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != "" {
			t.Errorf("request %d: CSP %q on a text/plain response", i, got)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("request %d: X-Content-Type-Options = %q", i, got)
		}
	}
}

// The middleware allocates nothing of its own beyond Apply's header values.
func TestHandlerAllocs(t *testing.T) {
	h := Strict().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := &resetWriter{h: http.Header{}}
	n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	})
	if n > 2 { // the shared values and the header map's growth
		t.Errorf("Handler: %v allocs per request, want at most 2", n)
	}
}

type resetWriter struct{ h http.Header }

func (w *resetWriter) Header() http.Header         { return w.h }
func (w *resetWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *resetWriter) WriteHeader(int)             {}
