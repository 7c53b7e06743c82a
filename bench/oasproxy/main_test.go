package main

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/valyala/fasthttp"
)

// TestBaselineEnforces checks that the baseline does the work it is
// compared on: a request without a valid token, on an undeclared route or
// breaking the schema never reaches the upstream; a valid one does.
func TestBaselineEnforces(t *testing.T) {
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	defer up.Close()

	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := jwk.Pem(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(keyPath, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(aud string, exp time.Time) string {
		tok, err := jwt.NewBuilder().Subject("bench-user").Audience([]string{aud}).Expiration(exp).Build()
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), key))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	good := sign("bench", time.Now().Add(time.Hour))

	p, err := newProxy("../conf/openapi.yaml", keyPath, "bench", strings.TrimPrefix(up.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.serve}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()
	base := "http://" + ln.Addr().String()

	body, err := os.ReadFile("../conf/post.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"valid GET", "GET", "/items/12345", good, "", 200},
		{"valid POST", "POST", "/items", good, string(body), 201},
		{"valid GET again (cached token)", "GET", "/items/7", good, "", 200},
		{"no token", "GET", "/items/12345", "", "", 401},
		{"bad signature", "GET", "/items/12345", good[:len(good)-4] + "AAAA", "", 401},
		{"wrong audience", "GET", "/items/12345", sign("other", time.Now().Add(time.Hour)), "", 401},
		{"expired", "GET", "/items/12345", sign("bench", time.Now().Add(-time.Hour)), "", 401},
		{"undeclared route", "GET", "/admin", good, "", 404},
		{"path parameter below minimum", "GET", "/items/0", good, "", 400},
		{"body missing required", "POST", "/items", good, `{"name":"x"}`, 400},
		{"body with undeclared property", "POST", "/items", good, `{"name":"x","sku":"A","price":1,"admin":true}`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := reached.Load()
			req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if got := reached.Load() - before; (c.want < 300) != (got == 1) {
				t.Errorf("upstream reached %d times for a %d", got, c.want)
			}
		})
	}
}
