package respfilter

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
)

func load(t testing.TB, file string) (*openapi.Spec, []oasvalidate.Operation) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openapi.LoadBytes(b, file)
	if err != nil {
		t.Fatal(err)
	}
	return s, opsOf(s)
}

// opsOf converts the spec's operation index (as the gateway does).
func opsOf(s *openapi.Spec) []oasvalidate.Operation {
	var ops []oasvalidate.Operation
	for _, o := range s.Operations {
		ops = append(ops, oasvalidate.Operation{ID: o.ID, Method: o.Method, Template: o.Template, PathItem: openapi.PathItem(o), Op: openapi.Op(o), Params: openapi.Params(o)})
	}
	return ops
}

func newFilter(t testing.TB, file string, opts Options) *Filter {
	t.Helper()
	s, ops := load(t, file)
	f, err := New(openapi.Model(s), ops, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad json %q: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestApply(t *testing.T) {
	validate, off := ModeValidate, ModeOff
	f := newFilter(t, "testdata/users30.yaml", Options{MaskCards: true, Operations: map[string]OperationOptions{
		"createUser":  {Unmask: []string{"token"}},
		"updateUser":  {Mode: &validate},
		"listUsers":   {Status: map[string]Mode{"404": ModeOff}},
		"putSettings": {Mode: &off},
	}})
	f31 := newFilter(t, "testdata/items31.yaml", Options{})
	tests := []struct {
		name   string
		f      *Filter
		op     string
		status int
		in     string
		want   string
		err    error
	}{
		{"undeclared and masked removed", f, "getUser", 200,
			`{"id":1,"name":"a","password_hash":"x","internal_notes":"y"}`, `{"id":1,"name":"a"}`, nil},
		{"allOf declared kept", f, "getUser", 200,
			`{"id":1,"name":"a","email":"a@x.io","role":"user","address":{"city":"c","geo":"g"}}`,
			`{"id":1,"name":"a","email":"a@x.io","role":"user","address":{"city":"c"}}`, nil},
		{"recursive ref", f, "getUser", 200,
			`{"address":{"next":{"next":{"city":"c","secret_code":1}}}}`, `{"address":{"next":{"next":{"city":"c"}}}}`, nil},
		{"list items filtered", f, "listUsers", 200,
			`[{"id":1,"passwordHash":"h1","x":1},{"id":2,"PASSWORD":"p","name":"b"}]`, `[{"id":1},{"id":2,"name":"b"}]`, nil},
		{"masked anywhere even in free-form object", f, "getUser", 200,
			`{"id":1,"extra":{"api-key":"k","nested":[{"ssn":"1","ok":true}]}}`, `{"id":1,"extra":{"nested":[{"ok":true}]}}`, nil},
		{"unmask per operation", f, "createUser", 201,
			`{"id":1,"token":"t","secret":"s"}`, `{"id":1}`, nil}, // token is undeclared: stripped anyway
		{"unmask keeps opted-in field", f, "createUser", 500,
			`{"token":"t","secret":"s"}`, `{"token":"t"}`, nil},
		{"card number masked", f, "getUser", 200,
			`{"id":1,"bio":"4111 1111 1111 1111"}`, `{"id":1,"bio":"************1111"}`, nil},
		{"non-card digits kept", f, "getUser", 200,
			`{"id":1,"bio":"1234567890123456"}`, `{"id":1,"bio":"1234567890123456"}`, nil},
		{"undeclared status still masked", f, "getUser", 500,
			`{"error":"x","token":"t"}`, `{"error":"x"}`, nil},
		{"status off", f, "listUsers", 404, `{"password":"p"}`, `{"password":"p"}`, nil},
		{"operation off", f, "putSettings", 204, `{"password":"p"}`, `{"password":"p"}`, nil},
		{"validate mode passes conforming, masks", f, "updateUser", 204, `{"password":"p"}`, `{}`, nil},
		// Item has unevaluatedProperties: false, so this value is a Gone:
		// Item's properties are not part of it.
		{"oneOf keeps the matching branch", f31, "getItem", 200,
			`{"kind":"item","gone":true,"id":2,"debug":{"sql":"select"}}`, `{"gone":true}`, nil},
		{"unparseable", f, "getUser", 200, `{"id":1,"id":2}`, "", ErrUnparseable},
		{"huge numbers pass verbatim", f, "getUser", 200, `{"id":123456789012345678901234567890}`, `{"id":123456789012345678901234567890}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := tc.f.Apply(tc.op, tc.status, []byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Apply = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got, want := string(out), canonBytes([]byte(tc.want)); canonBytes(out) != want {
				t.Errorf("Apply(%s) = %s, want %s", tc.in, got, want)
			}
		})
	}
}

func canonBytes(b []byte) string {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "invalid: " + string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestValidateMode(t *testing.T) {
	validate := ModeValidate
	f := newFilter(t, "testdata/users30.yaml", Options{Mode: ModeValidate, Operations: map[string]OperationOptions{"getUser": {Mode: &validate}}})
	if _, _, err := f.Apply("getUser", 200, []byte(`{"id":"not-a-number"}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Apply(non-conforming) = %v, want ErrInvalid", err)
	}
	out, _, err := f.Apply("getUser", 200, []byte(`{"id":1,"name":"a","email":"a@example.com","internal_notes":"kept: validate does not strip"}`))
	if err != nil || !strings.Contains(string(out), "internal_notes") {
		t.Fatalf("Apply(conforming) = %s, %v", out, err)
	}
}

// route wraps h with the route a gateway router would put in the context.
func route(t testing.TB, s *openapi.Spec, mode gatehouse.Mode, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := s.Match(r.Method, r.URL.EscapedPath())
		if err != nil {
			t.Errorf("Match(%s %s): %v", r.Method, r.URL.Path, err)
			http.Error(w, "no route", 404)
			return
		}
		rt := &gatehouse.Route{OperationID: m.Operation.ID, Method: r.Method, Template: m.Operation.Template, Params: m.Params, Mode: mode}
		ctx := gatehouse.NewRecordContext(gatehouse.WithRoute(r.Context(), rt), &gatehouse.Record{})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// TestThroughRealProxy: an upstream that over-shares, behind a real reverse
// proxy, and the client gets only the declared, unmasked fields with a
// correct Content-Length.
func TestThroughRealProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"abc"`)
		var out io.Writer = w
		// Compress when asked, like real upstreams: the filter must still see plain JSON.
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			out = gz
		}
		switch r.URL.Path {
		case "/users/1":
			io.WriteString(out, `{"id":1,"name":"a","password_hash":"x","internal_notes":"y"}`)
		case "/users":
			io.WriteString(out, `[{"id":1,"name":"a","password_hash":"$2b$10$abc"},{"id":2,"name":"b","password_hash":"$2b$10$def","internal_notes":"vip"}]`)
		}
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	s, ops := load(t, "testdata/users30.yaml")
	var logs bytes.Buffer
	f, err := New(openapi.Model(s), ops, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(route(t, s, gatehouse.Enforce, f.Middleware(httputil.NewSingleHostReverseProxy(u))))
	defer front.Close()

	for _, tc := range []struct{ path, want string }{
		{"/users/1", `{"id":1,"name":"a"}`},
		{"/users", `[{"id":1,"name":"a"},{"id":2,"name":"b"}]`},
	} {
		req, _ := http.NewRequest("GET", front.URL+tc.path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if canonBytes(body) != canon(t, tc.want) {
			t.Errorf("GET %s = %s, want %s", tc.path, body, tc.want)
		}
		if bytes.Contains(body, []byte("password_hash")) || bytes.Contains(body, []byte("internal_notes")) {
			t.Errorf("GET %s leaked: %s", tc.path, body)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("GET %s Content-Length = %d, body %d bytes", tc.path, resp.ContentLength, len(body))
		}
		if resp.Header.Get("ETag") != "" {
			t.Errorf("GET %s kept upstream ETag for a rewritten body", tc.path)
		}
	}
	if !strings.Contains(logs.String(), "password_hash") || !strings.Contains(logs.String(), "internal_notes") {
		t.Errorf("log does not name removed fields: %s", logs.String())
	}
}

func TestMiddlewareStreamingAndLimits(t *testing.T) {
	s, ops := load(t, "testdata/users30.yaml")
	big := `{"id":1,"bio":"` + strings.Repeat("x", 300) + `","password":"p"}`
	handler := func(ct string, body string, withLength bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			if withLength {
				w.Header().Set("Content-Length", itoa(len(body)))
			}
			// Write in small chunks, flushing, like a streaming upstream.
			for i := 0; i < len(body); i += 50 {
				end := min(i+50, len(body))
				io.WriteString(w, body[i:end])
				http.NewResponseController(w).Flush()
			}
		})
	}
	tests := []struct {
		name       string
		oversize   Oversize
		monitor    bool
		ct, body   string
		withLength bool
		wantStatus int
		wantBody   string // substring
		notBody    string
	}{
		// The operation declares only application/json: other types are a mismatch (OnMismatch block).
		{"undeclared text/plain blocked", OversizeBlock, false, "text/plain", `{"password":"p"}`, false, 502, "Bad Gateway", "password"},
		{"undeclared event stream blocked", OversizeBlock, false, "text/event-stream", "data: {\"password\":\"p\"}\n\n", false, 502, "Bad Gateway", "password"},
		{"oversize chunked blocked", OversizeBlock, false, "application/json", big, false, 502, "Bad Gateway", "password"},
		{"oversize with length blocked", OversizeBlock, false, "application/json", big, true, 502, "Bad Gateway", "password"},
		{"oversize passed when configured", OversizePass, false, "application/json", big, false, 200, `"password"`, ""},
		{"small json filtered", OversizeBlock, false, "application/json; charset=utf-8", `{"id":1,"password":"p"}`, false, 200, `"id":1`, "password"},
		{"monitor mode logs but passes", OversizeBlock, true, "application/json", `{"id":1,"password":"p"}`, false, 200, `"password"`, ""},
		{"bad json blocked", OversizeBlock, false, "application/json", `{"id":1,`, false, 502, "Bad Gateway", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(openapi.Model(s), ops, Options{MaxBody: 200, Oversize: tc.oversize})
			if err != nil {
				t.Fatal(err)
			}
			mode := gatehouse.Enforce
			if tc.monitor {
				mode = gatehouse.Monitor
			}
			srv := httptest.NewServer(route(t, s, mode, f.Middleware(handler(tc.ct, tc.body, tc.withLength))))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/users/1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, b)
			}
			if !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("body = %s, want it to contain %s", b, tc.wantBody)
			}
			if tc.notBody != "" && strings.Contains(string(b), tc.notBody) {
				t.Errorf("body = %s, must not contain %s", b, tc.notBody)
			}
		})
	}
}

func TestEncodedJSONBlocked(t *testing.T) {
	s, ops := load(t, "testdata/users30.yaml")
	f, err := New(openapi.Model(s), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip") // sent although nobody asked
		gz := gzip.NewWriter(w)
		io.WriteString(gz, `{"id":1,"password_hash":"x"}`)
		gz.Close()
	})
	srv := httptest.NewServer(route(t, s, gatehouse.Enforce, f.Middleware(h)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/users/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("compressed JSON the filter cannot read: status %d, want 502", resp.StatusCode)
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNum(n)) }

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMaskCard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true}, {"4111-1111-1111-1111", true}, {"378282246310005", true},
		{"5555555555554444", true}, {"4111111111111112", false}, {"1234567890123452", false},
		{"411111111111111a", false}, {"12345", false},
	} {
		if _, got := maskCard(tc.in); got != tc.want {
			t.Errorf("maskCard(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if m, _ := maskCard("4111 1111 1111 1234"); m != "" && !reflect.DeepEqual(m[len(m)-4:], "1234") {
		t.Errorf("mask keeps last four: %q", m)
	}
}
