package openapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestStripOverrideHeaders(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		strip  bool
		viaRaw bool // set the key without canonicalization, as a map key
	}{
		{"method override", "X-HTTP-Method-Override", true, false},
		{"x-http-method", "X-HTTP-Method", true, false},
		{"x-method-override", "X-Method-Override", true, false},
		{"original url", "X-Original-URL", true, false},
		{"rewrite url", "X-Rewrite-URL", true, false},
		{"original method", "X-Original-Method", true, false},
		{"lower case raw key", "x-original-url", true, true},
		{"upper case raw key", "X-HTTP-METHOD-OVERRIDE", true, true},
		{"underscores", "X_Original_URL", true, true},
		{"mixed underscores", "x_http-method_override", true, true},
		{"unrelated", "X-Request-Id", false, false},
		{"prefix only", "X-Original", false, false},
		{"longer name", "X-Original-URL-2", false, false},
		{"authorization", "Authorization", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Accept": {"*/*"}}
			if tt.viaRaw {
				h[tt.key] = []string{"DELETE"}
			} else {
				h.Set(tt.key, "DELETE")
			}
			removed := StripOverrideHeaders(h)
			_, present := h[tt.key]
			if !tt.viaRaw {
				_, present = h[http.CanonicalHeaderKey(tt.key)]
			}
			if present == tt.strip {
				t.Errorf("StripOverrideHeaders(%q): still present = %v, want %v", tt.key, present, !tt.strip)
			}
			if tt.strip != (len(removed) == 1) {
				t.Errorf("removed = %v", removed)
			}
			if h.Get("Accept") != "*/*" {
				t.Error("unrelated header removed")
			}
		})
	}
}

// Over a real HTTP connection: every override header a client sends,
// whatever its spelling, is gone before the handler would proxy it.
func TestStripOverrideHeadersOverHTTP(t *testing.T) {
	var got http.Header
	var removed []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		removed = StripOverrideHeaders(r.Header)
		got = r.Header.Clone()
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users", nil)
	for _, k := range []string{"X-HTTP-Method-Override", "x-original-url", "X_Rewrite_URL", "X-HTTP-Method", "x-method-override", "X-ORIGINAL-METHOD"} {
		req.Header[k] = []string{"x"}
	}
	req.Header.Set("X-Keep", "1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var keys []string
	for k := range got {
		keys = append(keys, strings.ToLower(k))
	}
	slices.Sort(keys)
	for _, k := range keys {
		if isOverrideHeader(k) {
			t.Errorf("override header %q reached the handler", k)
		}
	}
	if len(removed) != 6 {
		t.Errorf("removed %v, want the 6 override headers as they arrived", removed)
	}
	if got.Get("X-Keep") != "1" {
		t.Errorf("X-Keep lost: %v", got)
	}
}

// The set the gateway stripped before the two lists were merged.
func TestStripOverrideHeadersGatewaySet(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"X-HTTP-Method-Override", "x-http-method", "X-Method-Override", "X-Original-URL", "X_Rewrite_URL", "x-original-uri"} {
		h[k] = []string{"DELETE"}
	}
	h.Set("X-Other", "keep")
	if n := len(StripOverrideHeaders(h)); n != 6 || len(h) != 1 {
		t.Fatalf("removed %d, left %v", n, h)
	}
}
