// Package demo runs gatehouse's end-to-end story: the deliberately vulnerable
// API (vulnapi) is scanned directly, then put behind the gateway configured by
// examples/demo/gatehouse.yaml and scanned again with the same checks, and
// the two results are compared by OWASP API Top 10 category. It is the body
// of `gatehouse demo` and of the project's end-to-end test.
//
// Everything runs in this process on loopback ports: no Redis, no network.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn/jwt"
	assets "github.com/gatehouse/gatehouse/examples/demo"
	"github.com/gatehouse/gatehouse/internal/demo/vulnapi"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
	"github.com/gatehouse/gatehouse/scan/report"
)

// Options configure a demo run.
type Options struct {
	// Out receives progress lines and the before/after table.
	Out io.Writer
	// Dir is where the reports, the gateway config and its log are written.
	// Empty: a new temporary folder.
	Dir string
	// Checks selects checks as --checks does ("" = all).
	Checks string
	// Version is recorded in the scan results.
	Version string
}

// Result is what a demo run found.
type Result struct {
	Direct, Protected *scan.Result
	Rows              []Row
	Dir               string
	// Env is the running setup (nil once Close has been called).
	Env *Env
}

// Row is one OWASP category of the before/after table.
type Row struct {
	Category  string
	Direct    int // findings against the API itself
	Protected int // findings through gatehouse
}

// Env is a running demo: the vulnerable API alone, and a second instance of
// it behind the gateway. Close stops everything.
type Env struct {
	DirectURL, GatewayURL string
	// Tokens are gateway-trusted bearer tokens by user name.
	Tokens  map[string]string
	closers []func()
}

// Close stops the servers.
func (e *Env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// Run runs the whole demo and leaves the servers running in Result.Env; the
// caller must Close it.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "gatehouse-demo-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	env, err := Start(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	res = &Result{Dir: o.Dir, Env: env}

	fmt.Fprintf(o.Out, "1/2 scanning the vulnerable API directly at %s\n", env.DirectURL)
	direct := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
		scan.NewLoginIdentity("admin", "login", map[string]string{"username": "admin", "password": "admin-pw"}),
	}
	if res.Direct, err = runScan(ctx, o, env.DirectURL, direct, filepath.Join(o.Dir, "direct.html")); err != nil {
		return nil, fmt.Errorf("scan direct: %w", err)
	}
	fmt.Fprintf(o.Out, "2/2 scanning the same API through gatehouse at %s\n", env.GatewayURL)
	var protected []*scan.Identity
	for _, name := range []string{"alice", "bob", "admin"} {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+env.Tokens[name])
		protected = append(protected, scan.NewHeaderIdentity(name, h))
	}
	if res.Protected, err = runScan(ctx, o, env.GatewayURL, protected, filepath.Join(o.Dir, "protected.html")); err != nil {
		return nil, fmt.Errorf("scan through gatehouse: %w", err)
	}
	res.Rows = Compare(res.Direct, res.Protected)
	return res, nil
}

func runScan(ctx context.Context, o Options, target string, ids []*scan.Identity, htmlPath string) (*scan.Result, error) {
	spec, err := openapi.LoadBytes(vulnapi.Spec, "openapi.yaml")
	if err != nil {
		return nil, err
	}
	cs, err := checks.Select(o.Checks)
	if err != nil {
		return nil, err
	}
	// The demo gateway's per-user limit asks for 1s (Retry-After); its
	// login limit for 10s or more, and a login is what that limit exists
	// to refuse. 2s waits for the first, not for the second: a scan's
	// default (10s) would add ~10s to a demo that otherwise takes ~1s.
	client := scan.NewClient(scan.ClientOptions{Budget: 5000, Concurrency: 4, ThrottleWait: 2 * time.Second})
	t, err := scan.NewTarget(spec, target, ids, client, nil)
	if err != nil {
		return nil, err
	}
	r, err := scan.Run(ctx, t, scan.Options{Checks: cs, Version: o.Version})
	if err != nil {
		return nil, err
	}
	f, err := os.Create(htmlPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := report.New("html")
	if err != nil {
		return nil, err
	}
	if err := rep.Report(f, r); err != nil {
		return nil, fmt.Errorf("write %s: %w", htmlPath, err)
	}
	return r, f.Close()
}

// Start starts the vulnerable API twice on loopback: once alone, once behind
// a gateway built from examples/demo/gatehouse.yaml (written into dir with a
// fresh ES256 key pair), and mints a gateway-trusted token per seeded user.
func Start(ctx context.Context, dir string) (_ *Env, err error) {
	env := &Env{Tokens: map[string]string{}}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	// The API alone.
	directAPI, err := vulnapi.New(vulnapi.Options{})
	if err != nil {
		return nil, err
	}
	env.closers = append(env.closers, func() { directAPI.Close() })
	if env.DirectURL, err = serve(env, directAPI); err != nil {
		return nil, err
	}
	// The same vulnerable API as the gateway's upstream: it takes the
	// caller's identity from the gateway's X-Gatehouse-* headers.
	upAPI, err := vulnapi.New(vulnapi.Options{TrustGatewayHeaders: true})
	if err != nil {
		return nil, err
	}
	env.closers = append(env.closers, func() { upAPI.Close() })
	upURL, err := serve(env, upAPI)
	if err != nil {
		return nil, err
	}

	key, err := writeFiles(dir, upURL)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	env.closers = append(env.closers, func() { logf.Close() })
	srv, err := gateway.NewServer(ctx, gateway.ServerOptions{
		ConfigPath:     filepath.Join(dir, "gatehouse.yaml"),
		LogOutput:      logf,
		PublicListener: ln,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(runCtx) }()
	env.closers = append(env.closers, func() { cancel(); <-done })
	env.GatewayURL = "http://" + ln.Addr().String()

	for _, u := range vulnapi.Users {
		tok, err := jwt.Mint(map[string]any{
			"iss": "gatehouse-demo", "aud": "demo-api", "sub": fmt.Sprint(u.ID),
			"name": u.Username, "roles": []string{u.Role},
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
			"jti": randHex(12),
		}, "ES256", key)
		if err != nil {
			return nil, err
		}
		env.Tokens[u.Username] = tok
	}
	return env, waitReady(ctx, env.GatewayURL+"/health")
}

func serve(env *Env, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	env.closers = append(env.closers, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

// writeFiles writes the spec, the gateway config (pointed at upstream) and a
// fresh ES256 key pair into dir, and returns the private key.
func writeFiles(dir, upstream string) (jwk.Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	cfg := strings.Replace(string(assets.Config), `upstream: "http://127.0.0.1:5000"`, fmt.Sprintf("upstream: %q", upstream), 1)
	if cfg == string(assets.Config) {
		return nil, errors.New("demo config has no upstream line to point at the demo API")
	}
	files := map[string][]byte{
		"openapi.yaml":     vulnapi.Spec,
		"gatehouse.yaml":   []byte(cfg),
		"demo-key.pub.pem": pub,
		"demo-key.pem":     privPEM,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	pubKey, err := jwk.Import(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	kid, err := jwt.KeyID(pubKey)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	return key, nil
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not ready at %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

var _ = slog.LevelInfo
