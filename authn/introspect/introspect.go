// Package introspect authenticates opaque bearer tokens with OAuth 2.0 Token
// Introspection (RFC 7662): the token is POSTed to the authorization
// server's introspection endpoint with client authentication
// (client_secret_basic), and only an answer with "active": true (the JSON
// boolean) makes a principal.
//
// Answers are cached, keyed by the SHA-256 of the token (the token itself
// is never kept), in a bounded LRU; an entry lives at most MaxTTL and never
// past the token's exp. When the endpoint is down, cached tokens keep
// working until their entry expires and every other token fails closed
// (reason introspection_error). Inactive answers are not cached, so a token
// the server re-activates is not shut out.
package introspect

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/revocation"
)

// Failure reasons of this package (see authn.Reason).
const (
	ReasonIntrospectionError = "introspection_error" // the endpoint failed or answered nonsense (fail closed)
	ReasonInactive           = "inactive"            // the endpoint says the token is not active
)

// Options configures an Authenticator.
type Options struct {
	// Endpoint is the introspection URL (https, or http to a loopback host).
	Endpoint string
	// ClientID and ClientSecret authenticate the gateway to the endpoint
	// (HTTP Basic, form-encoded as RFC 6749 section 2.3.1 says).
	ClientID     string
	ClientSecret []byte
	// Issuer names the principal's issuer when the answer has no "iss".
	Issuer string
	// Audiences, when set: the answer's "aud" must name one of them.
	Audiences []string
	// SubjectClaim is the member the subject is read from; default "sub".
	SubjectClaim string
	// RolesClaim is the member holding the roles (array or space-separated
	// string); default "roles".
	RolesClaim string
	// SkipJWS leaves tokens shaped like a JWS (three dot-separated parts) to
	// the next authenticator (ErrNoCredentials): set when JWT issuers read
	// the same header.
	SkipJWS bool
	// CacheSize bounds the answer cache; default 10000, negative disables.
	CacheSize int
	// MaxTTL caps how long an active answer is cached; default 5m.
	MaxTTL time.Duration
	// Leeway tolerates clock skew on exp; default 0.
	Leeway time.Duration
	// Timeout bounds one introspection call; default 5s.
	Timeout time.Duration
	// MaxBody bounds the endpoint's answer; default 64 KiB.
	MaxBody int64
	// Client makes the calls; default: one that follows no redirects.
	Client *http.Client
	// Revocation, when set, is checked on every request (after the cache),
	// as for JWTs: a logout revokes the token by its jti or digest.
	Revocation revocation.Store
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// ErrBadEndpoint is returned by New for an endpoint it will not call.
var ErrBadEndpoint = errors.New("introspect: endpoint refused")

// Authenticator is an authn.Authenticator for opaque bearer tokens. It is
// safe for concurrent use.
type Authenticator struct {
	o     Options
	log   *slog.Logger
	cache *lru
}

var _ authn.Authenticator = (*Authenticator)(nil)

// New checks o and returns an Authenticator.
func New(o Options) (*Authenticator, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" ||
		!(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())) {
		return nil, fmt.Errorf("%w: %q (want https, or http to a loopback host)", ErrBadEndpoint, o.Endpoint)
	}
	if o.ClientID == "" || len(o.ClientSecret) == 0 {
		return nil, errors.New("introspect: client_id and client_secret are required")
	}
	if o.SubjectClaim == "" {
		o.SubjectClaim = "sub"
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "roles"
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Authenticator{o: o, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if o.CacheSize > 0 {
		a.cache = &lru{max: o.CacheSize, ll: list.New(), m: map[[32]byte]*list.Element{}}
	}
	return a, nil
}

func loopback(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}

// Authenticate implements authn.Authenticator for "Authorization: Bearer".
func (a *Authenticator) Authenticate(r *http.Request) (*authn.Principal, error) {
	var tok string
	n := 0
	for _, v := range r.Header.Values("Authorization") {
		scheme, rest, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			tok = strings.TrimSpace(rest)
			n++
		}
	}
	switch {
	case n == 0:
		return nil, authn.ErrNoCredentials
	case n > 1:
		return nil, authn.Fail(authn.ReasonMultipleTokens, fmt.Errorf("%d bearer tokens", n))
	case a.o.SkipJWS && strings.Count(tok, ".") == 2:
		return nil, authn.ErrNoCredentials
	}
	return a.Verify(r.Context(), tok)
}

// Verify introspects one token (through the cache) and checks revocation.
func (a *Authenticator) Verify(ctx context.Context, tok string) (*authn.Principal, error) {
	if tok == "" || len(tok) > 8<<10 {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("token of %d bytes", len(tok)))
	}
	now := a.o.Now()
	sum := sha256.Sum256([]byte(tok))
	p, ok := a.cache.get(sum, now)
	if !ok {
		var err error
		if p, err = a.introspect(ctx, tok, sum, now); err != nil {
			return nil, err
		}
		exp := now.Add(a.o.MaxTTL)
		if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
			exp = p.ExpiresAt
		}
		a.cache.put(sum, p, exp)
	}
	if a.o.Revocation != nil {
		revoked, err := a.o.Revocation.Check(ctx, p.TokenID, p.Subject, p.IssuedAt)
		if err != nil {
			return nil, authn.Fail(authn.ReasonRevocationError, err)
		}
		if revoked {
			return nil, authn.Fail(authn.ReasonRevoked, fmt.Errorf("token %q of %q", p.TokenID, p.Subject))
		}
	}
	return p, nil
}

// introspect calls the endpoint and turns an active answer into a principal.
func (a *Authenticator) introspect(ctx context.Context, tok string, sum [32]byte, now time.Time) (*authn.Principal, error) {
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	defer cancel()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.o.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, authn.Fail(ReasonIntrospectionError, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(a.o.ClientID), url.QueryEscape(string(a.o.ClientSecret)))
	resp, err := a.o.Client.Do(req)
	if err != nil {
		return nil, authn.Fail(ReasonIntrospectionError, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, a.o.MaxBody+1))
	switch {
	case err != nil:
		return nil, authn.Fail(ReasonIntrospectionError, err)
	case resp.StatusCode != http.StatusOK:
		return nil, authn.Fail(ReasonIntrospectionError, fmt.Errorf("status %d", resp.StatusCode))
	case int64(len(body)) > a.o.MaxBody:
		return nil, authn.Fail(ReasonIntrospectionError, fmt.Errorf("answer over %d bytes", a.o.MaxBody))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil || c == nil {
		return nil, authn.Fail(ReasonIntrospectionError, fmt.Errorf("answer is not a JSON object: %v", err))
	}
	if dec.More() {
		return nil, authn.Fail(ReasonIntrospectionError, errors.New("trailing data after the answer"))
	}
	if active, _ := c["active"].(bool); !active {
		return nil, authn.Fail(ReasonInactive, nil)
	}
	p := &authn.Principal{Issuer: a.o.Issuer, Method: "introspection", Claims: c}
	if iss, ok := c["iss"].(string); ok && iss != "" {
		p.Issuer = iss
	}
	exp, hasExp, err := numeric(c, "exp")
	if err != nil {
		return nil, err
	}
	if hasExp {
		p.ExpiresAt = exp
		if now.After(exp.Add(a.o.Leeway)) {
			return nil, authn.Fail(authn.ReasonExpired, fmt.Errorf("expired at %s", exp))
		}
	}
	if iat, ok, err := numeric(c, "iat"); err != nil {
		return nil, err
	} else if ok {
		p.IssuedAt = iat
	}
	if len(a.o.Audiences) > 0 {
		var auds []string
		switch x := c["aud"].(type) {
		case string:
			auds = []string{x}
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					auds = append(auds, s)
				}
			}
		}
		if !slices.ContainsFunc(auds, func(s string) bool { return slices.Contains(a.o.Audiences, s) }) {
			return nil, authn.Fail(authn.ReasonWrongAudience, fmt.Errorf("aud %v", c["aud"]))
		}
	}
	switch v := c[a.o.SubjectClaim].(type) {
	case string:
		p.Subject = v
	case json.Number:
		if _, err := v.Int64(); err != nil || strings.ContainsAny(v.String(), ".eE") || v.String() == "-0" {
			return nil, authn.Fail(authn.ReasonInvalidSubject, fmt.Errorf("%q is not an integer", v))
		}
		p.Subject = v.String()
	case nil:
	default:
		return nil, authn.Fail(authn.ReasonInvalidSubject, fmt.Errorf("claim %q is %T", a.o.SubjectClaim, v))
	}
	if p.Subject == "" {
		return nil, authn.Fail(authn.ReasonMissingSubject, fmt.Errorf("no %q in the answer", a.o.SubjectClaim))
	}
	if jti, _ := c["jti"].(string); jti != "" {
		p.TokenID = jti
	} else {
		p.TokenID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	p.Roles = words(c[a.o.RolesClaim])
	p.Scopes = words(c["scope"])
	return p, nil
}

func numeric(c map[string]any, name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	f, err := n.Float64()
	if !ok || err != nil || math.IsInf(f, 0) || math.Abs(f) > 1<<40 {
		return time.Time{}, false, authn.Fail(ReasonIntrospectionError, fmt.Errorf("%q is not a NumericDate", name))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func words(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// CacheLen returns the number of cached answers.
func (a *Authenticator) CacheLen() int { return a.cache.len() }

// lru caches active answers by token digest. A nil *lru caches nothing.
type lru struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[[32]byte]*list.Element
}

type entry struct {
	key     [32]byte
	p       *authn.Principal
	expires time.Time
}

func (c *lru) get(k [32]byte, now time.Time) (*authn.Principal, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.m, k)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.p, true
}

func (c *lru) put(k [32]byte, p *authn.Principal, expires time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		el.Value = &entry{key: k, p: p, expires: expires}
		c.ll.MoveToFront(el)
		return
	}
	for c.ll.Len() >= c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*entry).key)
	}
	c.m[k] = c.ll.PushFront(&entry{key: k, p: p, expires: expires})
}

func (c *lru) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
