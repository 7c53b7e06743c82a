// Command oasproxy is bench/run's third baseline, the one issue 17's
// targets name: "an OpenAPI-validating Go proxy (fasthttp) + JWT", built
// from the parts such proxies are built from: valyala/fasthttp for the
// server and the upstream client, kin-openapi's openapi3filter for routing
// and request validation (path, query, headers and JSON body against the
// spec), lestrrat-go/jwx for the RS256 bearer token (signature, exp, aud).
// No response filtering, rate limit, access log or security headers: what
// it costs is the floor of "validate the contract and the token" without
// net/http. Its own module, so fasthttp never enters gatehouse's
// dependency graph.
package main

import (
	"bytes"
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:5000", "upstream host:port")
	specPath := flag.String("spec", "openapi.yaml", "OpenAPI document")
	keyPath := flag.String("key", "signing.pem", "PEM key whose public half verifies the RS256 tokens")
	aud := flag.String("aud", "bench", "required token audience")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the first 10 s to `file`")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		time.AfterFunc(10*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
	}

	p, err := newProxy(*specPath, *keyPath, *aud, *upstream)
	if err != nil {
		log.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.serve, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, Name: "oasproxy"}
	log.Fatal(srv.ListenAndServe(*addr))
}

// newProxy loads the spec and the key and returns the proxy to upstream
// (host:port).
func newProxy(specPath, keyPath, aud, upstream string) (*proxy, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	priv, err := jwk.ParseKey(pem, jwk.WithPEM(true))
	if err != nil {
		return nil, err
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, err
	}
	return &proxy{
		router: router,
		client: &fasthttp.HostClient{Addr: upstream, MaxConns: 1024, MaxIdleConnDuration: 90 * time.Second, ReadTimeout: 30 * time.Second},
		opts: &openapi3filter.Options{
			// The token is checked in serve (jwx), once, as the gateway
			// does; openapi3filter only needs the scheme to be satisfied.
			AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		},
		parse: []jwt.ParseOption{jwt.WithKey(jwa.RS256(), pub), jwt.WithValidate(true), jwt.WithAudience(aud)},
	}, nil
}

type proxy struct {
	router routers.Router
	client *fasthttp.HostClient
	opts   *openapi3filter.Options
	parse  []jwt.ParseOption
	tokens sync.Map // token → expiry (time.Time) of a verified token
}

// verified checks the token's RS256 signature, exp and aud, and remembers
// a valid token until it expires, as gatehouse's verified-token cache does:
// an RSA verify per request would cost this baseline more than everything
// else together, and no production proxy pays it.
func (p *proxy) verified(tok []byte) bool {
	if exp, ok := p.tokens.Load(string(tok)); ok {
		return time.Now().Before(exp.(time.Time))
	}
	t, err := jwt.Parse(tok, p.parse...)
	if err != nil {
		return false
	}
	exp, ok := t.Expiration()
	if !ok {
		return false
	}
	p.tokens.Store(string(tok), exp)
	return true
}

var bearer = []byte("Bearer ")

func (p *proxy) serve(ctx *fasthttp.RequestCtx) {
	auth := ctx.Request.Header.Peek("Authorization")
	if !bytes.HasPrefix(auth, bearer) {
		ctx.Error(`{"error":"unauthorized"}`, fasthttp.StatusUnauthorized)
		return
	}
	if !p.verified(auth[len(bearer):]) {
		ctx.Error(`{"error":"unauthorized"}`, fasthttp.StatusUnauthorized)
		return
	}
	var req http.Request
	if err := fasthttpadaptor.ConvertRequest(ctx, &req, true); err != nil {
		ctx.Error(`{"error":"bad request"}`, fasthttp.StatusBadRequest)
		return
	}
	route, params, err := p.router.FindRoute(&req)
	if err != nil {
		ctx.Error(`{"error":"not found"}`, fasthttp.StatusNotFound)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: &req, PathParams: params, Route: route, Options: p.opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		ctx.Error(`{"error":"bad request"}`, fasthttp.StatusBadRequest)
		return
	}
	ctx.Request.Header.Del("Connection")
	if err := p.client.Do(&ctx.Request, &ctx.Response); err != nil {
		ctx.Error(`{"error":"bad gateway"}`, fasthttp.StatusBadGateway)
		return
	}
	ctx.Response.Header.Del("Connection")
}
