package config

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Authn configures authentication:
//
//	authn:
//	  jwt:
//	    - issuer: "https://idp.example.com/"
//	      discovery: true                 # or jwks_url: ..., or keys: [public.pem]
//	      audiences: ["orders-api"]
//	      algorithms: ["RS256", "ES256"]  # explicit allowlist; none is never accepted
//	      leeway: 30s
//	      roles_claim: realm_access.roles
//	  api_keys: { file: keys.yaml, header: X-API-Key }
//	  revocation: { store: memory }       # or redis://127.0.0.1:6379/0
//	  logout_operation: logout            # its 2xx revokes the presented token
//
// Authenticators are tried in order: introspection, JWT issuers, then API keys. A request
// without credentials passes unauthenticated; authz decides (see docs/authn.md).
type Authn struct {
	// JWT lists the trusted token issuers.
	JWT []JWTIssuer `yaml:"jwt"`
	// APIKeys enables API key authentication when file is set.
	APIKeys APIKeys `yaml:"api_keys"`
	// Revocation is where revoked tokens are kept.
	Revocation Revocation `yaml:"revocation"`
	// Cache is the verified-token cache.
	Cache TokenCache `yaml:"cache"`
	// Realm is sent in WWW-Authenticate.
	Realm string `yaml:"realm"`
	// IdentityHeaders names the headers carrying the verified identity to
	// the upstream ("" leaves one out). Client-sent copies are always removed.
	IdentityHeaders IdentityHeaders `yaml:"identity_headers"`
	// LogoutOperation is the operationId of the upstream's logout; when it
	// answers 2xx, the presented token is revoked.
	LogoutOperation string `yaml:"logout_operation"`
	// Introspection checks opaque bearer tokens with the IdP's RFC 7662 introspection endpoint (enabled when endpoint is set).
	Introspection Introspection `yaml:"introspection"`
}

// Introspection configures OAuth 2.0 token introspection (RFC 7662) for
// opaque bearer tokens; tokens shaped like a JWT are left to authn.jwt when
// issuers are configured.
type Introspection struct {
	// Endpoint is the introspection URL: https, or http to a loopback host.
	Endpoint string `yaml:"endpoint"`
	// ClientID authenticates gatehouse to the endpoint (HTTP Basic).
	ClientID string `yaml:"client_id"`
	// ClientSecret is the client's secret, written only as a ${ENV} reference.
	ClientSecret HMACSecret `yaml:"client_secret"`
	// Issuer names the principal's issuer when the answer has no iss.
	Issuer string `yaml:"issuer"`
	// Audiences: the answer's aud must name one of them. Required unless require_audience is false.
	Audiences []string `yaml:"audiences"`
	// RequireAudience makes audiences mandatory (default true); false accepts answers without an audience check.
	RequireAudience bool `yaml:"require_audience"`
	// SubjectClaim is the answer member holding the subject (a string, or an integer taken as its decimal text).
	SubjectClaim string `yaml:"subject_claim"`
	// RolesClaim is the answer member holding the roles (array or space-separated string).
	RolesClaim string `yaml:"roles_claim"`
	// CacheSize bounds the cache of active answers (keyed by token digest); 0 disables it.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL caps how long an active answer is cached (never past the token's exp); while the endpoint is down, only cached tokens pass.
	CacheTTL Duration `yaml:"cache_ttl"`
	// Timeout bounds one introspection call.
	Timeout Duration `yaml:"timeout"`
}

func (c *Introspection) setDefaults() {
	*c = Introspection{RequireAudience: true, SubjectClaim: "sub", RolesClaim: "roles", CacheSize: 10000,
		CacheTTL: Duration(5 * time.Minute), Timeout: Duration(5 * time.Second)}
}

func (c *Introspection) validate(p *Problems, path string) {
	if c.Endpoint == "" {
		return
	}
	ep := joinPath(path, "endpoint")
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p.Errorf(ep, "%q is not an absolute http(s) URL", c.Endpoint)
	case u.User != nil || u.Fragment != "":
		p.Errorf(ep, "%q must not carry credentials or a fragment", c.Endpoint)
	case u.Scheme == "http" && !authnLoopback(u.Hostname()):
		p.Errorf(ep, "%q is plain http: tokens and the client secret would cross the network in clear; use https", c.Endpoint)
	}
	if c.ClientID == "" {
		p.Errorf(joinPath(path, "client_id"), "client_id is required")
	}
	sp := joinPath(path, "client_secret")
	switch {
	case !c.ClientSecret.set || c.ClientSecret.value == "":
		p.Errorf(sp, "client_secret is required (a ${ENV} reference)")
	case !c.ClientSecret.fromEnv:
		p.Errorf(sp, "client_secret must be a ${ENV} reference, never the secret itself")
	case WeakSecret(c.ClientSecret.value):
		p.Warnf(sp, "client_secret is in the embedded list of published weak secrets: anyone can guess it")
	}
	if len(c.Audiences) == 0 && c.RequireAudience {
		p.Errorf(joinPath(path, "audiences"), "audiences is required; require_audience: false accepts tokens without an audience check")
	} else if len(c.Audiences) == 0 {
		p.Warnf(joinPath(path, "audiences"), "no audiences: tokens issued for any other API are accepted")
	}
	if strings.TrimSpace(c.SubjectClaim) == "" {
		p.Errorf(joinPath(path, "subject_claim"), "subject_claim must name a member")
	}
	if c.CacheSize < 0 {
		p.Errorf(joinPath(path, "cache_size"), "cache_size must not be negative")
	}
	if c.CacheTTL <= 0 {
		p.Errorf(joinPath(path, "cache_ttl"), "cache_ttl must be positive")
	}
	if c.Timeout <= 0 {
		p.Errorf(joinPath(path, "timeout"), "timeout must be positive")
	}
}

func authnLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// JWTIssuer is one trusted token issuer.
type JWTIssuer struct {
	// Issuer must equal the token's iss exactly; it also names the issuer in logs, metrics and the principal.
	Issuer string `yaml:"issuer" required:"true"`
	// RequireIssuer rejects tokens without iss (default true). false accepts tokens without iss (a token that has one must still name issuer); for APIs that mint their own tokens without it. At most one issuer per token_source may set it.
	RequireIssuer bool `yaml:"require_issuer"`
	// JWKSURL is the issuer's JWKS endpoint.
	JWKSURL string `yaml:"jwks_url"`
	// Discovery reads jwks_uri from the issuer's /.well-known/openid-configuration.
	Discovery bool `yaml:"discovery"`
	// Keys are local public (or private: only the public half is used) key files, PEM or JWK/JWKS.
	Keys []string `yaml:"keys" path:"file"`
	// Audiences: the token's aud must name one of them. Required unless require_audience is false.
	Audiences []string `yaml:"audiences"`
	// RequireAudience rejects tokens without aud (default true). false accepts tokens without aud (one that has aud must still name one of audiences, when set).
	RequireAudience bool `yaml:"require_audience"`
	// Algorithms is the explicit allowlist: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512 (HS only with hs_secret).
	Algorithms []string `yaml:"algorithms" required:"true"`
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway Duration `yaml:"leeway"`
	// RequireExp rejects tokens without exp; turning it off draws a warning.
	RequireExp bool `yaml:"require_exp"`
	// MaxTokenLifetime, when set, rejects tokens whose exp-iat (exp-now when there is no iat) exceeds it, and tokens without exp.
	MaxTokenLifetime Duration `yaml:"max_token_lifetime"`
	// MaxLifetime is the older name of max_token_lifetime (same meaning; set only one).
	MaxLifetime Duration `yaml:"max_lifetime"`
	// HSSecret is the shared secret for HS* algorithms, written only as a ${ENV} reference (at least the hash length: 32 bytes for HS256, 48 for HS384, 64 for HS512).
	HSSecret HMACSecret `yaml:"hs_secret"`
	// AllowWeakSecret accepts an hs_secret shorter than the hash length (never an empty one): validate and the startup log warn and /readyz reports degraded.
	AllowWeakSecret bool `yaml:"allow_weak_secret"`
	// SubjectClaim is the claim the principal's subject is read from (sub, username, user_id, or a dotted path); a string, or an integer taken as its decimal text.
	SubjectClaim string `yaml:"subject_claim"`
	// RolesClaim is the claim path of the roles, e.g. realm_access.roles.
	RolesClaim string `yaml:"roles_claim"`
	// ScopesClaim is the claim path of the scopes; empty reads scope (space-separated) or scp (array).
	ScopesClaim string `yaml:"scopes_claim"`
	// TokenSource is where the token is read: bearer (Authorization header), header:NAME, cookie:NAME or query:NAME.
	TokenSource string `yaml:"token_source"`
	// MinRefresh is the shortest JWKS refresh interval (Cache-Control max-age is clamped to it).
	MinRefresh Duration `yaml:"min_refresh"`
	// MaxRefresh is the longest JWKS refresh interval.
	MaxRefresh Duration `yaml:"max_refresh"`
	// UnknownKIDCooldown is the least time between two JWKS refetches caused by an unknown kid.
	UnknownKIDCooldown Duration `yaml:"unknown_kid_cooldown"`
	// FetchTimeout bounds each discovery or JWKS request.
	FetchTimeout Duration `yaml:"fetch_timeout"`
	// JWKSMaxStale is how long the last good JWKS keeps serving after the last successful fetch while the IdP fails; then tokens fail closed (401) and /readyz is not ready until a fetch succeeds.
	JWKSMaxStale Duration `yaml:"jwks_max_stale"`
}

// APIKeys configures API key authentication.
type APIKeys struct {
	// File is the keys file: a YAML list of {hash: "sha256:<hex>", subject, roles, scopes, expires}.
	File string `yaml:"file" path:"file"`
	// Header carrying the key.
	Header string `yaml:"header"`
	// Query parameter carrying the key (discouraged: keys leak into logs).
	Query string `yaml:"query"`
}

// Revocation configures the revocation store.
type Revocation struct {
	// Store is memory, none, or a redis:// (rediss://) URL shared by all replicas.
	Store string `yaml:"store"`
	// MaxEntries bounds the memory store.
	MaxEntries int `yaml:"max_entries"`
	// SubjectTTL is how long a "log out everywhere" entry is kept (the longest token lifetime you issue).
	SubjectTTL Duration `yaml:"subject_ttl"`
	// OnStoreError decides a token whose revocation check fails because the Redis store is down: deny (default: 401, and /readyz not ready) or allow (accepted unchecked, revoked tokens included; /readyz degraded).
	OnStoreError string `yaml:"on_store_error" enum:"deny,allow"`
}

// IsRedis reports whether the store is a redis:// or rediss:// URL.
func (r *Revocation) IsRedis() bool {
	return strings.HasPrefix(r.Store, "redis://") || strings.HasPrefix(r.Store, "rediss://")
}

// TokenCache configures the verified-token cache.
type TokenCache struct {
	// Size is the most tokens cached; 0 disables the cache.
	Size int `yaml:"size"`
	// TTL caps how long a token stays cached (never past its exp).
	TTL Duration `yaml:"ttl"`
}

// IdentityHeaders names the identity headers sent to the upstream.
type IdentityHeaders struct {
	Subject string `yaml:"subject"`
	Roles   string `yaml:"roles"`
	Scopes  string `yaml:"scopes"`
	Issuer  string `yaml:"issuer"`
	Method  string `yaml:"method"`
}

// HMACSecret is a shared secret that may only come from the environment
// (hs_secret: ${NAME}). It prints as <secret>.
type HMACSecret struct {
	value   string
	set     bool
	fromEnv bool
}

// Value returns the secret bytes.
func (s HMACSecret) Value() []byte { return []byte(s.value) }

// IsSet reports whether a secret was configured.
func (s HMACSecret) IsSet() bool { return s.set }

// String redacts the secret.
func (s HMACSecret) String() string {
	if !s.set {
		return ""
	}
	return "<secret>"
}

// MarshalYAML redacts the secret.
func (s HMACSecret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML records the value and whether it came from a ${ENV}
// reference: Load hands over expanded scalars as untagged copies, while a
// literal from the file keeps its !!str tag.
func (s *HMACSecret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("hs_secret must be a ${ENV} reference")
	}
	s.value, s.set = n.Value, true
	s.fromEnv = n.Tag == ""
	return nil
}

func (HMACSecret) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": "^" + envPattern + "$",
		"description": "a ${NAME} reference to the shared secret (never the secret itself)"}
}

// Authn defaults.
const (
	DefaultIdentitySubject = "X-Gatehouse-Subject"
	DefaultIdentityRoles   = "X-Gatehouse-Roles"
	DefaultIdentityScopes  = "X-Gatehouse-Scopes"
)

// setDefaults fills unset fields of Authn before decoding overwrites them.
func (c *Authn) setDefaults() {
	c.APIKeys.setDefaults()
	c.Revocation.setDefaults()
	c.Cache.setDefaults()
	c.Introspection.setDefaults()
	c.Realm = "gatehouse"
	c.IdentityHeaders = IdentityHeaders{Subject: DefaultIdentitySubject, Roles: DefaultIdentityRoles, Scopes: DefaultIdentityScopes}
}

func (c *APIKeys) setDefaults() { c.Header = "X-API-Key" }
func (c *Revocation) setDefaults() {
	*c = Revocation{Store: "memory", MaxEntries: 100000, SubjectTTL: Duration(24 * time.Hour), OnStoreError: "deny"}
}
func (c *TokenCache) setDefaults() { *c = TokenCache{Size: 10000, TTL: Duration(5 * time.Minute)} }

// setDefaults gives each issuer (a list item) its defaults.
func (j *JWTIssuer) setDefaults() {
	j.Leeway = Duration(30 * time.Second)
	j.RequireExp = true
	j.RequireIssuer = true
	j.RequireAudience = true
	j.SubjectClaim = "sub"
	j.RolesClaim = "roles"
	j.TokenSource = "bearer"
	j.MinRefresh = Duration(time.Minute)
	j.MaxRefresh = Duration(time.Hour)
	j.UnknownKIDCooldown = Duration(10 * time.Second)
	j.FetchTimeout = Duration(5 * time.Second)
	j.JWKSMaxStale = Duration(24 * time.Hour)
}

// TokenLifetime returns the effective max_token_lifetime (or its older
// name max_lifetime); 0 means no limit.
func (j *JWTIssuer) TokenLifetime() time.Duration {
	if j.MaxTokenLifetime > 0 {
		return j.MaxTokenLifetime.D()
	}
	return j.MaxLifetime.D()
}

// hsMinSecret returns the shortest secret the issuer's HS* algorithms
// accept (their largest hash length), 0 without HS*.
func (j *JWTIssuer) hsMinSecret() int {
	n := 0
	for _, a := range j.Algorithms {
		switch a {
		case "HS256":
			n = max(n, 32)
		case "HS384":
			n = max(n, 48)
		case "HS512":
			n = max(n, 64)
		}
	}
	return n
}

// WeakSecret reports whether the issuer runs with an HS* secret shorter
// than the hash length (allowed by allow_weak_secret).
func (j *JWTIssuer) WeakSecret() bool {
	n := j.hsMinSecret()
	return n > 0 && j.AllowWeakSecret && j.HSSecret.set && len(j.HSSecret.value) < n
}

// Enabled reports whether any authenticator is configured.
func (c *Authn) Enabled() bool {
	return len(c.JWT) > 0 || c.APIKeys.File != "" || c.Introspection.Endpoint != ""
}

var jwtAlgs = map[string]bool{"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "HS256": true, "HS384": true, "HS512": true}

// validate reports problems in Authn; path is its YAML key path.
func (c *Authn) validate(p *Problems, path string) {
	seen := map[string]string{}
	for i := range c.JWT {
		ip := joinPath(path, "jwt") + "[" + strconv.Itoa(i) + "]"
		j := &c.JWT[i]
		j.validate(p, ip)
		k := j.Issuer + "\x00" + strings.ToLower(j.TokenSource)
		if prev, dup := seen[k]; dup && j.Issuer != "" {
			p.Errorf(joinPath(ip, "issuer"), "issuer %q with token_source %q is already configured at %s", j.Issuer, j.TokenSource, prev)
		}
		seen[k] = ip
		if !j.RequireIssuer {
			k := "\x00noiss\x00" + strings.ToLower(j.TokenSource)
			if prev, dup := seen[k]; dup {
				p.Errorf(joinPath(ip, "require_issuer"), "only one issuer per token_source may accept tokens without iss; %s already does", prev)
			}
			seen[k] = ip
		}
	}
	ak := joinPath(path, "api_keys")
	if c.APIKeys.File != "" {
		checkFile(p, joinPath(ak, "file"), "keys file", c.APIKeys.File)
		if c.APIKeys.Header == "" && c.APIKeys.Query == "" {
			p.Errorf(joinPath(ak, "header"), "api_keys needs a header or a query parameter name")
		}
	}
	if c.APIKeys.Header != "" {
		checkHeaderName(p, joinPath(ak, "header"), c.APIKeys.Header)
	}
	if c.APIKeys.Query != "" {
		p.Warnf(joinPath(ak, "query"), "API keys in the query string leak into access logs, proxies and Referer headers; prefer a header")
	}
	rp := joinPath(path, "revocation")
	switch s := c.Revocation.Store; {
	case s == "memory":
	case s == "none":
		if c.LogoutOperation != "" {
			p.Errorf(joinPath(path, "logout_operation"), "logout_operation needs a revocation store (revocation.store is none)")
		}
	case strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://"):
		if _, err := url.Parse(s); err != nil {
			p.Errorf(joinPath(rp, "store"), "revocation store URL: %v", err)
		}
	default:
		p.Errorf(joinPath(rp, "store"), "revocation store must be memory, none or a redis:// URL, not %q", s)
	}
	switch c.Revocation.OnStoreError {
	case "deny":
	case "allow":
		if !c.Revocation.IsRedis() {
			p.Warnf(joinPath(rp, "on_store_error"), "on_store_error only applies to a redis:// store")
		} else {
			p.Warnf(joinPath(rp, "on_store_error"), "on_store_error allow: while Redis is down, revoked (logged-out) tokens are accepted")
		}
	default:
		p.Errorf(joinPath(rp, "on_store_error"), "on_store_error must be deny or allow, not %q", c.Revocation.OnStoreError)
	}
	if c.Revocation.MaxEntries <= 0 {
		p.Errorf(joinPath(rp, "max_entries"), "max_entries must be positive")
	}
	if c.Revocation.SubjectTTL <= 0 {
		p.Errorf(joinPath(rp, "subject_ttl"), "subject_ttl must be positive")
	}
	if c.Cache.Size < 0 {
		p.Errorf(joinPath(path, "cache.size"), "cache size must not be negative")
	}
	if c.Cache.TTL <= 0 {
		p.Errorf(joinPath(path, "cache.ttl"), "cache ttl must be positive")
	}
	hp := joinPath(path, "identity_headers")
	for _, h := range []struct{ key, v string }{{"subject", c.IdentityHeaders.Subject}, {"roles", c.IdentityHeaders.Roles},
		{"scopes", c.IdentityHeaders.Scopes}, {"issuer", c.IdentityHeaders.Issuer}, {"method", c.IdentityHeaders.Method}} {
		if h.v != "" {
			checkHeaderName(p, joinPath(hp, h.key), h.v)
		}
	}
	c.Introspection.validate(p, joinPath(path, "introspection"))
	if c.LogoutOperation != "" && len(c.JWT) == 0 && c.Introspection.Endpoint == "" {
		p.Warnf(joinPath(path, "logout_operation"), "logout_operation has no effect without jwt issuers")
	}
}

func (j *JWTIssuer) validate(p *Problems, path string) {
	hs, asym := false, false
	for i, a := range j.Algorithms {
		ap := joinPath(path, "algorithms") + "[" + strconv.Itoa(i) + "]"
		switch {
		case strings.EqualFold(a, "none"):
			p.Errorf(ap, "alg none is never accepted: unsigned tokens would let anyone in")
		case !jwtAlgs[a]:
			p.Errorf(ap, "unsupported algorithm %q (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)", a)
		case strings.HasPrefix(a, "HS"):
			hs = true
		default:
			asym = true
		}
	}
	sources := 0
	for _, b := range []bool{j.JWKSURL != "", j.Discovery, len(j.Keys) > 0} {
		if b {
			sources++
		}
	}
	switch {
	case sources > 1:
		p.Errorf(path, "set only one of jwks_url, discovery and keys")
	case sources == 0 && asym:
		p.Errorf(path, "asymmetric algorithms need keys: set jwks_url, discovery: true or keys")
	case sources > 0 && !asym && hs:
		p.Warnf(path, "keys are configured but only HS* algorithms are allowed: the keys are unused")
	}
	if j.JWKSURL != "" {
		checkFetchURL(p, joinPath(path, "jwks_url"), j.JWKSURL)
	}
	if j.Discovery {
		checkFetchURL(p, joinPath(path, "issuer"), j.Issuer)
	}
	for i, f := range j.Keys {
		checkFile(p, joinPath(path, "keys")+"["+strconv.Itoa(i)+"]", "key file", f)
	}
	sp := joinPath(path, "hs_secret")
	switch {
	case j.HSSecret.set && !j.HSSecret.fromEnv:
		p.Errorf(sp, "hs_secret must be a ${ENV} reference, never the secret itself")
	case hs && !j.HSSecret.set:
		p.Errorf(sp, "HS* algorithms need hs_secret (a ${ENV} reference to a secret of at least %d bytes)", j.hsMinSecret())
	case hs && len(j.HSSecret.value) == 0:
		p.Errorf(sp, "hs_secret is empty")
	case hs && len(j.HSSecret.value) < j.hsMinSecret() && !j.AllowWeakSecret:
		p.Errorf(sp, "hs_secret is %d bytes; %s needs at least %d random bytes (the hash length); allow_weak_secret: true accepts it anyway", len(j.HSSecret.value), strings.Join(j.Algorithms, "/"), j.hsMinSecret())
	case hs && len(j.HSSecret.value) < j.hsMinSecret():
		p.Warnf(sp, "hs_secret is %d bytes, under the %d-byte hash length (allow_weak_secret): anyone who guesses the secret can mint tokens for any subject; /readyz reports degraded", len(j.HSSecret.value), j.hsMinSecret())
	case j.HSSecret.set && !hs:
		p.Warnf(sp, "hs_secret is set but no HS* algorithm is allowed: it is unused")
	}
	if hs && j.HSSecret.set && j.HSSecret.fromEnv && WeakSecret(j.HSSecret.value) {
		if j.AllowWeakSecret {
			p.Warnf(sp, "hs_secret is in the embedded list of published weak secrets (allow_weak_secret): anyone can guess it and mint tokens")
		} else {
			p.Errorf(sp, "hs_secret is in the embedded list of published weak secrets: anyone can guess it and mint tokens; use 32+ random bytes (allow_weak_secret: true accepts it anyway)")
		}
	}
	if j.AllowWeakSecret && (!hs || j.HSSecret.set && len(j.HSSecret.value) >= j.hsMinSecret() && !WeakSecret(j.HSSecret.value)) {
		p.Warnf(joinPath(path, "allow_weak_secret"), "allow_weak_secret has no effect: no HS* secret shorter than the hash length")
	}
	if hs {
		p.Warnf(joinPath(path, "algorithms"), "HS* shares one secret between issuer and gateway: anyone holding it can mint tokens; prefer RS256/ES256/EdDSA")
	}
	if !j.RequireExp {
		p.Warnf(joinPath(path, "require_exp"), "require_exp is false: tokens without exp never expire")
	}
	switch {
	case len(j.Audiences) == 0 && j.RequireAudience:
		p.Errorf(joinPath(path, "audiences"), "audiences is required; require_audience: false accepts tokens without an audience check")
	case len(j.Audiences) == 0:
		p.Warnf(joinPath(path, "audiences"), "no audiences: tokens minted for any other API of this issuer are accepted")
	case !j.RequireAudience:
		p.Warnf(joinPath(path, "require_audience"), "require_audience is false: tokens without aud are accepted")
	}
	if !j.RequireIssuer {
		p.Warnf(joinPath(path, "require_issuer"), "require_issuer is false: tokens without iss are accepted; every token these keys verify is trusted, so no other service may sign with them")
	}
	if strings.TrimSpace(j.SubjectClaim) == "" || strings.ContainsAny(j.SubjectClaim, " \t") || strings.HasPrefix(j.SubjectClaim, ".") || strings.HasSuffix(j.SubjectClaim, ".") {
		p.Errorf(joinPath(path, "subject_claim"), "subject_claim must name a claim (sub, username, user_id or a dotted path), not %q", j.SubjectClaim)
	}
	if j.Leeway < 0 {
		p.Errorf(joinPath(path, "leeway"), "leeway must not be negative")
	} else if j.Leeway.D() > 5*time.Minute {
		p.Warnf(joinPath(path, "leeway"), "leeway %s is long: expired tokens stay valid that much longer", j.Leeway)
	}
	if j.MaxLifetime < 0 {
		p.Errorf(joinPath(path, "max_lifetime"), "max_lifetime must not be negative")
	}
	if j.MaxTokenLifetime < 0 {
		p.Errorf(joinPath(path, "max_token_lifetime"), "max_token_lifetime must not be negative")
	}
	if j.MaxTokenLifetime != 0 && j.MaxLifetime != 0 {
		p.Errorf(joinPath(path, "max_lifetime"), "max_lifetime is the older name of max_token_lifetime: set only one")
	}
	if j.MinRefresh.D() < time.Second {
		p.Errorf(joinPath(path, "min_refresh"), "min_refresh must be at least 1s")
	}
	if j.MaxRefresh < j.MinRefresh {
		p.Errorf(joinPath(path, "max_refresh"), "max_refresh must not be shorter than min_refresh")
	}
	if j.UnknownKIDCooldown.D() < time.Second {
		p.Errorf(joinPath(path, "unknown_kid_cooldown"), "unknown_kid_cooldown must be at least 1s")
	}
	if j.FetchTimeout <= 0 {
		p.Errorf(joinPath(path, "fetch_timeout"), "fetch_timeout must be positive")
	}
	if j.JWKSMaxStale <= j.MaxRefresh && (j.JWKSURL != "" || j.Discovery) {
		p.Errorf(joinPath(path, "jwks_max_stale"), "jwks_max_stale (%s) must be longer than max_refresh (%s): keys would expire between two regular refreshes", j.JWKSMaxStale, j.MaxRefresh)
	}
	tp := joinPath(path, "token_source")
	kind, name, _ := strings.Cut(j.TokenSource, ":")
	switch strings.ToLower(kind) {
	case "bearer":
		if name != "" {
			p.Errorf(tp, "token_source bearer takes no name")
		}
	case "header", "cookie", "query":
		if strings.TrimSpace(name) == "" {
			p.Errorf(tp, "token_source %s needs a name, e.g. %s:access_token", kind, kind)
		}
		if strings.EqualFold(kind, "query") {
			p.Warnf(tp, "tokens in the query string leak into access logs, proxies and Referer headers; prefer bearer")
		}
	default:
		p.Errorf(tp, "token_source must be bearer, header:NAME, cookie:NAME or query:NAME, not %q", j.TokenSource)
	}
}

// checkAuthnNeeded warns when authorization needs an authenticated caller
// but no authenticator is configured: every such request would get 401.
func checkAuthnNeeded(p *Problems, c *Config) {
	if c.Authn.Enabled() {
		return
	}
	if c.Authz.Default == "authenticated" {
		p.Warnf("authz.default", "default authenticated but no authentication is configured (authn.jwt, authn.api_keys, authn.introspection): every operation without a public rule answers 401")
	}
	keys := make([]string, 0, len(c.Authz.Rules))
	for k, r := range c.Authz.Rules {
		if r != nil && !r.Public {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Warnf(joinPath(joinPath("authz", "rules"), k), "this rule needs an authenticated caller but no authentication is configured: it always answers 401")
	}
}

// checkFetchURL checks a URL gatehouse fetches keys from.
func checkFetchURL(p *Problems, path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.Errorf(path, "%q is not an absolute http(s) URL", s)
		return
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
		p.Errorf(path, "%q must not carry credentials or a fragment", s)
		return
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
			p.Warnf(path, "%q is plain http: keys fetched over it can be replaced in transit", s)
		}
	}
}

var reservedHeaders = map[string]bool{"authorization": true, "cookie": true, "host": true, "connection": true,
	"content-length": true, "transfer-encoding": true, "x-forwarded-for": true, "forwarded": true}

func checkHeaderName(p *Problems, path, h string) {
	for _, c := range h {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			p.Errorf(path, "%q is not a valid header name", h)
			return
		}
	}
	if reservedHeaders[strings.ToLower(h)] {
		p.Errorf(path, "%q is reserved and cannot be used here", h)
	}
}
