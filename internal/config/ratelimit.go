package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// RateLimits configures rate limiting and login brute-force protection:
//
//	rate_limits:
//	  store: memory                  # or "redis://127.0.0.1:6379/0", "rediss://..."
//	  on_store_error: local          # local | allow | deny
//	  limits:
//	    - { name: login-ip, operations: [login], key: ip, rate: "5/min", burst: 5 }
//	    - { name: per-user, key: user, rate: "100/s", burst: 200 }
//	    - { name: per-op, key: [operation, ip], rate: "50/s" }
//	    - { name: per-tenant, key: 'cel:principal.claims.?org.orValue(request.ip)', rate: "1000/min" }
//	  login:
//	    operations: [login]
//	    account_field: /username
//	    per_account: { rate: "10/min", burst: 10 }
//	    lockout: { after_failures: 5, base: 1m, max: 1h }
type RateLimits struct {
	// Store is "memory" (per node) or a Redis URL (redis:// or rediss://)
	// shared by every node.
	Store string `yaml:"store"`
	// Cluster parses Store as a Redis Cluster URL (more nodes as ?addr=host:port).
	Cluster bool `yaml:"cluster"`
	// OnStoreError is what happens while Redis is unreachable: local (count
	// per node in memory), allow (no limit) or deny (503).
	OnStoreError string `yaml:"on_store_error" enum:"local,allow,deny"`
	// Mode forces enforce or monitor for rate limiting; empty follows the
	// route's (or the global) mode.
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// MaxKeys caps the keys held in memory (the memory store and the local
	// fallback); idle keys are evicted first.
	MaxKeys int `yaml:"max_keys"`
	// Backoff is how long a failed Redis is left alone before it is tried again.
	Backoff Duration `yaml:"backoff"`
	// BackoffAfterFailures is how many Redis calls in a row must fail
	// before the backoff starts (default 3): one slow reply is not an outage.
	BackoffAfterFailures int `yaml:"backoff_after_failures"`
	// Redis tunes the Redis connection pool.
	Redis RedisLimits `yaml:"redis"`
	// Limits lists the limits; every limit that applies to a request is checked.
	Limits []RateLimit `yaml:"limits"`
	// Login enables brute-force protection on login operations.
	Login *LoginLimits `yaml:"login"`
	// Concurrency caps the requests in flight at the upstream (globally,
	// per operation, per key) and bounds their duration, so one slow
	// operation cannot exhaust the upstream.
	Concurrency *Concurrency `yaml:"concurrency"`
}

// Concurrency bounds the requests at the upstream at once and how long one
// may take:
//
//	concurrency:
//	  max_in_flight: 200            # all operations together
//	  timeout: 30s                  # one whole upstream exchange; over it: 504
//	  per_key: { key: ip, max_in_flight: 20 }
//	  status: 503                   # or 429, with Retry-After
//	  operations:
//	    search: { max_in_flight: 4, timeout: 2s, per_key: { key: user, max_in_flight: 1 } }
type Concurrency struct {
	// MaxInFlight caps the requests at the upstream at once, all
	// operations together (0: no cap).
	MaxInFlight int `yaml:"max_in_flight"`
	// Timeout bounds one whole upstream exchange, response body included
	// (0: none beyond timeouts.upstream_response_header); exceeded: 504.
	Timeout Duration `yaml:"timeout"`
	// PerKey caps the requests in flight per key (ip, user, api_key, ...)
	// over all operations.
	PerKey *InFlightKey `yaml:"per_key"`
	// Status answers a request over a cap: 503 (default) or 429.
	Status int `yaml:"status"`
	// RetryAfter is sent with that answer (default 1s).
	RetryAfter Duration `yaml:"retry_after"`
	// Operations sets a cap, a per-key cap and a timeout per operationId
	// (its timeout replaces the global one).
	Operations map[string]OperationConcurrency `yaml:"operations"`
}

// OperationConcurrency bounds one operation.
type OperationConcurrency struct {
	// MaxInFlight caps this operation's requests at the upstream at once (0: no cap).
	MaxInFlight int `yaml:"max_in_flight"`
	// Timeout bounds one upstream exchange of this operation (0: the global timeout).
	Timeout Duration `yaml:"timeout"`
	// PerKey caps this operation's requests in flight per key.
	PerKey *InFlightKey `yaml:"per_key"`
}

// InFlightKey caps requests in flight per key.
type InFlightKey struct {
	// Key is a rate-limit key: ip, api_key, user, operation, header:NAME, claim:NAME or cel:EXPR.
	Key StringList `yaml:"key"`
	// MaxInFlight is the cap per key value (at least 1).
	MaxInFlight int `yaml:"max_in_flight"`
}

// validate reports problems in Concurrency; path is its YAML key path.
func (c *Concurrency) validate(p *Problems, path string) {
	if c.MaxInFlight < 0 {
		p.Errorf(path+".max_in_flight", "max_in_flight must not be negative")
	}
	if c.Timeout < 0 {
		p.Errorf(path+".timeout", "timeout must not be negative")
	}
	if c.RetryAfter < 0 {
		p.Errorf(path+".retry_after", "retry_after must not be negative")
	}
	if c.Status != 0 && c.Status != 503 && c.Status != 429 {
		p.Errorf(path+".status", "status must be 503 or 429, not %d", c.Status)
	}
	c.PerKey.validate(p, path+".per_key")
	for op, oc := range c.Operations {
		op := path + ".operations." + op
		if oc.MaxInFlight < 0 {
			p.Errorf(op+".max_in_flight", "max_in_flight must not be negative")
		}
		if oc.Timeout < 0 {
			p.Errorf(op+".timeout", "timeout must not be negative")
		}
		oc.PerKey.validate(p, op+".per_key")
	}
}

func (k *InFlightKey) validate(p *Problems, path string) {
	if k == nil {
		return
	}
	if k.MaxInFlight < 1 {
		p.Errorf(path+".max_in_flight", "max_in_flight must be at least 1")
	}
	if len(k.Key) == 0 {
		p.Errorf(path+".key", "key is required (ip, api_key, user, operation, header:NAME, claim:NAME, cel:EXPR)")
	} else if _, err := ratelimit.ParseKey(k.Key, nil); err != nil {
		p.Errorf(path+".key", "%v", err)
	}
}

// RedisLimits tunes the Redis client of the rate limiter.
type RedisLimits struct {
	PoolSize     int      `yaml:"pool_size"`
	MinIdleConns int      `yaml:"min_idle_conns"`
	DialTimeout  Duration `yaml:"dial_timeout"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// Timeout bounds one whole decision.
	Timeout Duration `yaml:"timeout"`
	// Prefix is prepended to every Redis key.
	Prefix string `yaml:"prefix"`
	// ClientTime uses the gateway's clock instead of Redis TIME (only with synced clocks).
	ClientTime bool `yaml:"client_time"`
}

// RateLimit is one limit.
type RateLimit struct {
	// Name identifies the limit in headers, logs and metrics ([A-Za-z0-9_.-]).
	Name string `yaml:"name"`
	// Operations restricts the limit to these operationIds (empty: all).
	Operations []string `yaml:"operations"`
	// Key is one word or a list: ip, api_key, user, operation, header:NAME,
	// claim:NAME, or cel:EXPR (a CEL expression over principal.* and
	// request.*, returning a string, int, uint or bool; compiled and
	// type-checked when the config loads, see docs/ratelimit.md).
	Key StringList `yaml:"key"`
	// Rate is "<count>/<period>", e.g. "5/min", "100/s", "10/1h".
	Rate string `yaml:"rate"`
	// Burst is how many requests may arrive at once (default: the rate's count).
	Burst int `yaml:"burst"`
}

// LoginLimits configures brute-force protection.
type LoginLimits struct {
	// Operations lists the login operationIds.
	Operations []string `yaml:"operations"`
	// AccountField is the JSON pointer of the account name in the body. A
	// login without an account value (or with two different ones) is
	// refused with 400.
	AccountField string `yaml:"account_field"`
	// AccountMatch is how the pointer's object keys are matched: fold
	// (default: case-insensitive, as Go's encoding/json and many decoders
	// bind "Username" to a username field) or exact.
	AccountMatch string `yaml:"account_match" enum:"fold,exact"`
	// FailureWhen is a CEL condition over the upstream's answer
	// (response.status int, response.headers map(string, string),
	// response.body: the body parsed as JSON, up to 16 KiB) that counts a
	// login as failed for the lockout, e.g.
	// 'response.status == 200 && !has(response.body.auth_token)'.
	// Default: the upstream answered 401 or 403.
	FailureWhen string `yaml:"failure_when"`
	// PerIP limits attempts per client address.
	PerIP *RateSpec `yaml:"per_ip"`
	// PerAccount limits attempts per account.
	PerAccount *RateSpec `yaml:"per_account"`
	// Lockout locks an account after repeated failures (upstream 401/403).
	Lockout *Lockout `yaml:"lockout"`
}

// RateSpec is a rate with a burst.
type RateSpec struct {
	Rate  string `yaml:"rate"`
	Burst int    `yaml:"burst"`
}

// Lockout is a progressive lockout.
type Lockout struct {
	AfterFailures int      `yaml:"after_failures"`
	Base          Duration `yaml:"base"`
	Max           Duration `yaml:"max"`
}

// StringList decodes a YAML scalar or sequence of strings.
type StringList []string

// UnmarshalYAML accepts "ip" as well as [operation, ip].
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("want a string or a list of strings")
}

// setDefaults fills unset fields of RateLimits before decoding overwrites them.
func (c *RateLimits) setDefaults() {
	c.Store = "memory"
	c.OnStoreError = "local"
	c.MaxKeys = ratelimit.DefaultMaxKeys
}

// IsRedis tells whether Store names a Redis server.
func (c *RateLimits) IsRedis() bool {
	return strings.HasPrefix(c.Store, "redis://") || strings.HasPrefix(c.Store, "rediss://")
}

// Enabled tells whether any limit or login protection is configured.
func (c *RateLimits) Enabled() bool { return len(c.Limits) > 0 || c.Login != nil }

// validate reports problems in RateLimits; path is its YAML key path.
func (c *RateLimits) validate(p *Problems, path string) {
	switch {
	case c.Store == "memory" || c.Store == "":
	case c.IsRedis():
		if u, err := url.Parse(c.Store); err != nil || u.Host == "" {
			p.Errorf(path+".store", "store: want memory or a redis:// / rediss:// URL with a host")
		} else if strings.HasPrefix(c.Store, "redis://") && !isLoopbackHost(u.Hostname()) {
			p.Warnf(path+".store", "redis:// is plain text: use rediss:// for a Redis that is not on this host")
		}
	default:
		p.Errorf(path+".store", "store: want memory or a redis:// / rediss:// URL")
	}
	if c.Cluster && !c.IsRedis() {
		p.Errorf(path+".cluster", "cluster needs a redis:// or rediss:// store")
	}
	if _, err := ratelimit.ParseStoreErrorMode(c.OnStoreError); err != nil {
		p.Errorf(path+".on_store_error", "on_store_error must be local, allow or deny, not %q", c.OnStoreError)
	}
	if c.OnStoreError == "allow" && c.IsRedis() {
		p.Warnf(path+".on_store_error", "on_store_error allow: while Redis is down there is no rate limit at all (no brute-force protection)")
	}
	checkMode(p, path+".mode", c.Mode, true)
	if c.MaxKeys < 1000 {
		p.Errorf(path+".max_keys", "max_keys must be at least 1000")
	}
	if c.Backoff < 0 {
		p.Errorf(path+".backoff", "backoff must not be negative")
	}
	if c.BackoffAfterFailures < 0 || c.BackoffAfterFailures > 100 {
		p.Errorf(path+".backoff_after_failures", "backoff_after_failures must be between 1 and 100 (0: the default, 3)")
	}
	r := c.Redis
	if r.PoolSize < 0 || r.MinIdleConns < 0 || r.DialTimeout < 0 || r.ReadTimeout < 0 || r.WriteTimeout < 0 || r.Timeout < 0 {
		p.Errorf(path+".redis", "redis pool sizes and timeouts must not be negative")
	}
	names := map[string]bool{}
	for i, l := range c.Limits {
		lp := path + ".limits[" + strconv.Itoa(i) + "]"
		if l.Name == "" {
			p.Errorf(lp+".name", "name is required")
		} else if err := ratelimit.CheckName(l.Name); err != nil {
			p.Errorf(lp+".name", "%v", err)
		} else if names[l.Name] {
			p.Errorf(lp+".name", "duplicate limit name %q", l.Name)
		}
		names[l.Name] = true
		checkRate(p, lp, l.Name, l.Rate, l.Burst)
		if len(l.Key) == 0 {
			p.Errorf(lp+".key", "key is required (ip, api_key, user, operation, header:NAME, claim:NAME, cel:EXPR)")
		} else if _, err := ratelimit.ParseKey(l.Key, nil); err != nil {
			p.Errorf(lp+".key", "%v", err)
		}
		for j, op := range l.Operations {
			if op == "" {
				p.Errorf(lp+".operations["+strconv.Itoa(j)+"]", "empty operation id")
			}
		}
	}
	if c.Concurrency != nil {
		c.Concurrency.validate(p, path+".concurrency")
	}
	if lg := c.Login; lg != nil {
		lp := path + ".login"
		if len(lg.Operations) == 0 {
			p.Errorf(lp+".operations", "login needs the login operationIds")
		}
		if lg.AccountField != "" && !strings.HasPrefix(lg.AccountField, "/") {
			p.Errorf(lp+".account_field", "account_field must be a JSON pointer such as /username")
		}
		if lg.AccountMatch != "" && lg.AccountMatch != "fold" && lg.AccountMatch != "exact" {
			p.Errorf(lp+".account_match", "account_match must be fold or exact, not %q", lg.AccountMatch)
		}
		if lg.FailureWhen != "" {
			if lg.Lockout == nil {
				p.Errorf(lp+".failure_when", "failure_when needs lockout")
			} else if _, err := ratelimit.CompileFailureWhen(lg.FailureWhen); err != nil {
				p.Errorf(lp+".failure_when", "%v", err)
			}
		}
		if (lg.PerAccount != nil || lg.Lockout != nil) && lg.AccountField == "" {
			p.Errorf(lp+".account_field", "per_account and lockout need account_field")
		}
		if lg.PerIP != nil {
			checkRate(p, lp+".per_ip", "login-ip", lg.PerIP.Rate, lg.PerIP.Burst)
			if names["login-ip"] {
				p.Errorf(lp+".per_ip", "login.per_ip is named login-ip, which a limit already uses")
			}
		}
		if lg.PerAccount != nil {
			checkRate(p, lp+".per_account", "login-account", lg.PerAccount.Rate, lg.PerAccount.Burst)
			if names["login-account"] {
				p.Errorf(lp+".per_account", "login.per_account is named login-account, which a limit already uses")
			}
		}
		if lo := lg.Lockout; lo != nil {
			pol := ratelimit.LockoutPolicy{AfterFailures: lo.AfterFailures, Base: lo.Base.D(), Max: lo.Max.D()}
			if err := pol.Validate(); err != nil {
				p.Errorf(lp+".lockout", "%v", err)
			}
		}
		if lg.PerIP == nil && lg.PerAccount == nil && lg.Lockout == nil {
			p.Warnf(lp, "login has no per_ip, per_account or lockout: it does nothing")
		}
	}
}

func checkRate(p *Problems, path, name, rate string, burst int) {
	if rate == "" {
		p.Errorf(path+".rate", "rate is required, e.g. \"100/s\" or \"5/min\"")
		return
	}
	r, err := ratelimit.ParseRate(rate)
	if err != nil {
		p.Errorf(path+".rate", "%v", err)
		return
	}
	if burst < 0 {
		p.Errorf(path+".burst", "burst must not be negative")
		return
	}
	if ratelimit.CheckName(name) == nil {
		if _, err := ratelimit.NewPolicy(name, r, burst); err != nil {
			p.Errorf(path, "%v", err)
		}
	}
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}
