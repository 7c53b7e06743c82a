package openapi

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestRequestPath(t *testing.T) {
	tests := []struct {
		name, requestURI, want string
		u                      *url.URL
	}{
		{"origin-form", "/users/42?x=1", "/users/42", nil},
		{"origin-form keeps escapes", "/users/%2e%2e/admin", "/users/%2e%2e/admin", nil},
		{"absolute-form", "http://h.example/admin/users?x", "/admin/users", nil},
		{"absolute-form no path", "https://h.example", "/", nil},
		{"asterisk", "*", "*", nil},
		{"in-process request", "", "/a%2Fb", &url.URL{Path: "/a/b", RawPath: "/a%2Fb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RequestURI: tt.requestURI, URL: tt.u}
			if got := RequestPath(r); got != tt.want {
				t.Errorf("RequestPath(%q) = %q, want %q", tt.requestURI, got, tt.want)
			}
		})
	}
}

// Raw request lines over a real TCP connection: what the client sends is
// what Match sees (net/http does not clean it), and the outcome is the
// policy's, not the Go server's.
func TestMatchOverHTTP(t *testing.T) {
	s := routes(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := s.Match(r.Method, RequestPath(r))
		var mna *MethodNotAllowedError
		switch {
		case errors.Is(err, ErrBadPath):
			w.WriteHeader(http.StatusBadRequest)
		case errors.As(err, &mna):
			w.Header().Set("Allow", strings.Join(mna.Allow, ", "))
			w.WriteHeader(http.StatusMethodNotAllowed)
		case errors.Is(err, ErrNotFound):
			w.WriteHeader(http.StatusNotFound)
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			fmt.Fprintf(w, "%s %s", m.Operation.ID, m.RawPath)
		}
	}))
	defer srv.Close()
	tests := []struct {
		line   string
		status int
		body   string
	}{
		{"GET /users/42 HTTP/1.1", 200, "getUser /users/42"},
		{"GET /users/..%2Fadmin HTTP/1.1", 400, ""},
		{"GET /users/../admin/users HTTP/1.1", 400, ""},
		{"GET //admin/users HTTP/1.1", 400, ""},
		{"GET /admin;x=1/users HTTP/1.1", 400, ""},
		{"GET /ADMIN/users HTTP/1.1", 404, ""},
		{"GET http://evil.example/%61dmin/users HTTP/1.1", 200, "adminListUsers /admin/users"},
		{"PATCH /users HTTP/1.1", 405, ""},
		{"GET /users/%C0%AE%C0%AE/admin HTTP/1.1", 400, ""},
		{"GET /users/%EF%BC%8E%EF%BC%8E HTTP/1.1", 400, ""},
		// ("OPTIONS *" never reaches a handler: net/http answers it itself.)
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "%s\r\nHost: gw.example\r\nConnection: close\r\n\r\n", tt.line)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			bufio.NewReader(resp.Body).WriteTo(&b)
			if resp.StatusCode != tt.status || (tt.body != "" && b.String() != tt.body) {
				t.Errorf("%s -> %d %q, want %d %q", tt.line, resp.StatusCode, b.String(), tt.status, tt.body)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "GET, POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
}
