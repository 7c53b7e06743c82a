package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/internal/config"
)

// hotItem is bench/upstream's answer (393 bytes, every field in the spec).
const hotItem = `{"id":12345,"name":"Widget deluxe","sku":"WD-0001-XL","price":1999,"currency":"EUR",` +
	`"description":"A widget of the deluxe kind, for benchmarks: it has a long enough description to make the whole JSON object about four hundred bytes long, as many APIs send.",` +
	`"tags":["tools","hardware","deluxe"],"stock":42,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","active":true}`

// BenchmarkHotPath is bench/run's gatehouse pass-through and full pipeline
// (RS256 JWT, request validation, memory rate limit, response filter,
// security headers, JSON access log to io.Discard) in process: the
// gateway's own work and allocations per request, the loopback round trip
// to a real upstream included, the client side excluded. "plain" is
// bench/plainproxy's httputil.ReverseProxy in the same loop: the floor of a
// net/http proxy, to read gatehouse's figures against.
//
//	go test -run '^$' -bench BenchmarkHotPath -benchmem -benchtime=2000x ./internal/gateway
func BenchmarkHotPath(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(hotItem)))
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = io.WriteString(w, hotItem)
	}))
	defer up.Close()
	spec, err := os.ReadFile("../../bench/conf/openapi.yaml")
	if err != nil {
		b.Fatal(err)
	}
	post, err := os.ReadFile("../../bench/conf/post.json")
	if err != nil {
		b.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	k, err := jwk.Import(priv)
	if err != nil {
		b.Fatal(err)
	}
	pem, err := jwk.Pem(k)
	if err != nil {
		b.Fatal(err)
	}
	set, err := jwt.ParseKeys(pem)
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := set.Key(0)
	tok, err := jwt.Mint(map[string]any{"iss": "gatehouse", "aud": "bench", "sub": "bench-user",
		"exp": time.Now().Add(time.Hour).Unix()}, "RS256", signer)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for name, data := range map[string][]byte{"openapi.yaml": spec, "signing.pem": pem} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	common := "listen: \"127.0.0.1:0\"\nupstream: \"" + up.URL + "\"\nspec: openapi.yaml\nheaders: { preset: strict }\n"
	configs := map[string]string{
		"pass": common + "authz: { default: public }\nrequest: { validate: false }\nresponse: { mode: \"off\" }\n",
		"full": common + `authn:
  jwt:
    - { issuer: gatehouse, keys: [signing.pem], audiences: [bench], algorithms: [RS256] }
authz: { default: authenticated }
request: { validate: true }
response: { mode: filter }
rate_limits:
  store: memory
  limits:
    - { name: per-user, key: user, rate: "1000000/s", burst: 1000000 }
`,
	}
	upURL, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	plain := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256,
			IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	run := func(b *testing.B, h http.Handler, method string) {
		target, want := "/items/12345", http.StatusOK
		if method == "POST" {
			target, want = "/items", http.StatusCreated
		}
		b.ReportAllocs()
		for b.Loop() {
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader(string(post))
			}
			r := httptest.NewRequest(method, target, body)
			r.RemoteAddr = "127.0.0.1:1234"
			r.Header.Set("Authorization", "Bearer "+tok)
			if body != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want {
				b.Fatalf("%s %s: status %d %s", method, target, w.Code, w.Body)
			}
		}
	}
	for _, method := range []string{"GET", "POST"} {
		b.Run("plain/"+method, func(b *testing.B) { run(b, plain, method) })
	}
	for _, name := range []string{"pass", "full"} {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(configs[name]), 0o600); err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Check(path)
		if err != nil {
			b.Fatal(err)
		}
		log := slog.New(slog.NewJSONHandler(io.Discard, nil))
		p, err := Build(context.Background(), cfg, Deps{Logger: log, AccessJSON: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		for _, method := range []string{"GET", "POST"} {
			b.Run(name+"/"+method, func(b *testing.B) { run(b, p, method) })
		}
		p.Close()
	}
}
