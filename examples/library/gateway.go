// Package library shows gatehouse used as a library from another module:
// the spec model, each security stage as middleware in front of a Go
// handler, and the scanner and auditor run from Go code. It imports every
// public package of github.com/gatehouse/gatehouse (TestImportsEveryPublicPackage
// keeps it so) and, being another module, cannot import internal/ ones.
package library

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/apikey"
	"github.com/gatehouse/gatehouse/authn/introspect"
	"github.com/gatehouse/gatehouse/authn/jwt"
	"github.com/gatehouse/gatehouse/authn/revocation"
	"github.com/gatehouse/gatehouse/authn/revocation/redisstore"
	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/authz/policy"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/redislimit"
	"github.com/gatehouse/gatehouse/respfilter"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/waf"
)

// Options configure Protect.
type Options struct {
	// Issuer and Audience name the trusted token issuer; Keys holds its
	// public keys (ES256).
	Issuer, Audience string
	Keys             jwk.Set
	// APIKeys are accepted in X-API-Key beside bearer tokens (may be empty).
	APIKeys []apikey.Key
	// Rate and Burst bound each user's requests ("10/s", 10).
	Rate  string
	Burst int
	// RedisURL, when set, keeps rate-limit counters and revocations in
	// Redis, shared by every replica; otherwise they live in memory.
	RedisURL string
	// RedisPrefix starts every Redis key (default "library-example:").
	RedisPrefix string
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Gateway is the chain of gatehouse stages in front of an API.
type Gateway struct {
	http.Handler
	// Revocation is where logouts are recorded.
	Revocation revocation.Store
	closers    []func() error
}

// Close releases the Redis connections, if any.
func (g *Gateway) Close() error {
	var errs []error
	for _, c := range g.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Protect builds, outermost first: security headers, the spec router
// (canonical path or 400/404/405), authentication (ES256 JWT, API keys),
// a per-user rate limit, the OWASP CRS (Coraza), authorization (default
// authenticated; getUser only for its owner), request validation against
// the spec (unknown properties refused, injection detection) and response
// filtering (undeclared and sensitive fields removed), then api.
func Protect(ctx context.Context, spec *openapi.Spec, api http.Handler, o Options) (*Gateway, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{}
	fail := func(err error) (*Gateway, error) {
		_ = g.Close()
		return nil, err
	}

	// Where shared state lives: Redis for N replicas, memory for one.
	var limitStore ratelimit.Store
	g.Revocation = revocation.NewMemory(100_000, nil)
	if o.RedisURL != "" {
		if o.RedisPrefix == "" {
			o.RedisPrefix = "library-example:"
		}
		rs, err := redislimit.New(redislimit.Options{URL: o.RedisURL, Prefix: o.RedisPrefix + "rl:"})
		if err != nil {
			return fail(fmt.Errorf("rate-limit store: %w", err))
		}
		g.closers = append(g.closers, rs.Close)
		limitStore = rs
		ropts, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			return fail(fmt.Errorf("revocation store: %w", err))
		}
		rc := redis.NewClient(ropts)
		g.closers = append(g.closers, rc.Close)
		g.Revocation = redisstore.New(rc, redisstore.Options{Prefix: o.RedisPrefix + "revoked:"})
	}

	// Authentication.
	keys, _, err := jwt.NewKeySet(o.Keys)
	if err != nil {
		return fail(fmt.Errorf("issuer keys: %w", err))
	}
	iss, err := jwt.NewIssuer(jwt.IssuerOptions{
		Issuer: o.Issuer, Audiences: []string{o.Audience}, Algorithms: []string{"ES256"},
		Keys: jwt.Static{Set: keys}, Leeway: 30 * time.Second, MaxLifetime: time.Hour,
	})
	if err != nil {
		return fail(fmt.Errorf("issuer: %w", err))
	}
	tokens, err := jwt.New(jwt.Options{Issuers: []*jwt.Issuer{iss}, CacheSize: 10_000, Revocation: g.Revocation, Now: o.Now, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("jwt: %w", err))
	}
	keyStore, err := apikey.NewMemory(o.APIKeys)
	if err != nil {
		return fail(fmt.Errorf("api keys: %w", err))
	}
	apiKeys, err := apikey.New(apikey.Options{Store: keyStore, Now: o.Now})
	if err != nil {
		return fail(fmt.Errorf("api keys: %w", err))
	}
	authenticators := []authn.Authenticator{tokens, apiKeys}

	// Rate limit, keyed by the authenticated user.
	key, err := ratelimit.ParseKey([]string{"user"}, httpx.PeerAddr)
	if err != nil {
		return fail(err)
	}
	rate, err := ratelimit.ParseRate(o.Rate)
	if err != nil {
		return fail(err)
	}
	pol, err := ratelimit.NewPolicy("per-user", rate, o.Burst)
	if err != nil {
		return fail(err)
	}
	limiter, err := ratelimit.New(ratelimit.Options{
		Limits: []ratelimit.Limit{{Policy: pol, Key: key}},
		Store:  limitStore, OnStoreError: ratelimit.OnErrorLocal,
		Now: o.Now, Logger: log, ClientIP: httpx.PeerAddr,
	})
	if err != nil {
		return fail(err)
	}

	// WAF: the OWASP Core Rule Set at paranoia level 1.
	crs, err := waf.New(waf.Options{ParanoiaLevel: 1, InspectBody: true, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("waf: %w", err))
	}

	// Authorization from the spec's operations: every operation needs an
	// authenticated caller; getUser only its owner.
	var ops []policy.Operation
	for _, op := range spec.Operations {
		pop := policy.Operation{ID: op.ID, Method: op.Method, Template: op.Template, Tags: op.Tags,
			JSONBody: openapi.Op(op).RequestBody != nil}
		for _, p := range openapi.Params(op) {
			if p.In == policy.InPath || p.In == policy.InQuery {
				t := celpolicy.String
				if p.Schema != nil && p.Schema.Schema() != nil && len(p.Schema.Schema().Type) == 1 && p.Schema.Schema().Type[0] == "integer" {
					t = celpolicy.Int
				}
				pop.Params = append(pop.Params, policy.Param{Name: p.Name, In: p.In, Type: t})
			}
		}
		ops = append(ops, pop)
	}
	var az authz.Authorizer
	az, err = policy.New(policy.Options{
		Default:    policy.Authenticated,
		Operations: ops,
		Rules: []policy.Rule{
			{Key: "getUser", Owner: &policy.Owner{Param: "user_id", Claim: "sub", UnlessRoles: []string{"admin"}}},
			{Key: "createOrder", Allow: `request.body.qty <= 50 || 'bulk' in principal.roles`},
		},
		Now: o.Now, Logger: log,
	})
	if err != nil {
		return fail(fmt.Errorf("authorization: %w", err))
	}

	// The request and response contract.
	vops := oasvalidate.Operations(openapi.Model(spec))
	validator, err := oasvalidate.New(openapi.Model(spec), vops, oasvalidate.Options{
		RejectUnknown: true, RejectUnknownQuery: true, Injection: inspect.Default, ExposeField: true,
		Limits: jsonx.Limits{MaxDepth: 16, MaxKeys: 256, MaxStringLen: 4096}, Logger: log,
	})
	if err != nil {
		return fail(fmt.Errorf("request validation: %w", err))
	}
	filter, err := respfilter.New(openapi.Model(spec), vops, respfilter.Options{Mode: respfilter.ModeFilter, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("response filter: %w", err))
	}

	chain := gatehouse.Chain(
		secheaders.Strict().Handler,
		route(spec),
		authn.Middleware(authn.MiddlewareOptions{Authenticators: authenticators, SubjectHeader: "X-Gatehouse-Subject", Logger: log}),
		limiter.Wrap,
		crs.Middleware(waf.MiddlewareOptions{ClientIP: httpx.PeerAddr}),
		az.(*policy.Policy).Middleware,
		validator.Middleware,
		filter.Middleware,
	)
	g.Handler = chain(api)
	return g, nil
}

// route matches each request against the spec and puts the operation in
// the context, as the gateway's router does: the later stages key on it,
// never on the raw path. What the spec does not declare is answered here
// with a generic problem body; the request goes on with the canonical path.
func route(spec *openapi.Spec) gatehouse.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			openapi.StripOverrideHeaders(r.Header)
			m, err := spec.Match(r.Method, openapi.RequestPath(r))
			if err != nil {
				status := http.StatusNotFound
				var mna *openapi.MethodNotAllowedError
				switch {
				case errors.Is(err, openapi.ErrBadPath):
					status = http.StatusBadRequest
				case errors.As(err, &mna):
					status = http.StatusMethodNotAllowed
				}
				problem.WriteError(w, r, &problem.Error{Status: status, Err: err})
				return
			}
			ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: httpx.NewRequestID()})
			ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{
				OperationID: m.Operation.ID, Method: m.Operation.Method, Template: m.Operation.Template,
				Path: m.Path, Params: m.Params, Tags: m.Operation.Tags,
			})
			r = r.WithContext(ctx)
			r.URL.Path, r.URL.RawPath = m.Path, m.RawPath
			next.ServeHTTP(w, r)
		})
	}
}

// The introspection authenticator (RFC 7662, for opaque tokens) fits the
// same chain as the JWT one; this example's issuer signs JWTs.
var _ authn.Authenticator = (*introspect.Authenticator)(nil)
