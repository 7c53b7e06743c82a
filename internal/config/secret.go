package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/weaklist"
)

// redacted is what every secret prints as.
const redacted = "<secret>"

// Format redacts the secret for every fmt verb (%v, %+v, %#v, %s, %q, %x).
func (s HMACSecret) Format(f fmt.State, _ rune) {
	if s.set {
		_, _ = f.Write([]byte(redacted))
	}
}

// GoString redacts the secret (%#v).
func (s HMACSecret) GoString() string { return s.String() }

// MarshalJSON redacts the secret.
func (s HMACSecret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts the secret (encoders that use encoding.TextMarshaler).
func (s HMACSecret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret in slog output.
func (s HMACSecret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	_ fmt.Formatter  = HMACSecret{}
	_ fmt.GoStringer = HMACSecret{}
	_ json.Marshaler = HMACSecret{}
	_ slog.LogValuer = HMACSecret{}
)

// SecretBytes is a secret read from a file or the environment (the admin
// token). Its bytes are used directly (comparison, hashing); every printer
// (fmt, encoding/json, text encoders, slog) gets "<secret>" instead.
type SecretBytes []byte

// String redacts the secret ("" when empty).
func (s SecretBytes) String() string {
	if len(s) == 0 {
		return ""
	}
	return redacted
}

// Format redacts the secret for every fmt verb.
func (s SecretBytes) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// GoString redacts the secret (%#v).
func (s SecretBytes) GoString() string { return s.String() }

// MarshalJSON redacts the secret.
func (s SecretBytes) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts the secret.
func (s SecretBytes) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret in slog output.
func (s SecretBytes) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	_ fmt.Formatter  = SecretBytes(nil)
	_ fmt.GoStringer = SecretBytes(nil)
	_ json.Marshaler = SecretBytes(nil)
	_ slog.LogValuer = SecretBytes(nil)
)

// WeakSecret reports whether s is in the embedded lists of published weak
// secrets (the 10,000 most common passwords and common JWT secrets,
// weaklist), case-insensitively and ignoring surrounding space.
func WeakSecret(s string) bool { return weaklist.WeakSecret(strings.TrimSpace(s)) }

// checkInlineSecrets warns about secrets written in the file itself rather
// than read from ${ENV} or a file: the password of a Redis URL. (hs_secret
// and introspection client_secret written inline are errors; API keys are
// only ever read, as hashes, from authn.api_keys.file.)
func checkInlineSecrets(p *Problems, c *Config) {
	for _, k := range []struct{ path, v string }{
		{"rate_limits.store", c.RateLimits.Store},
		{"authn.revocation.store", c.Authn.Revocation.Store},
	} {
		if !strings.Contains(k.v, "://") || c.fromEnv[k.path] {
			continue
		}
		u, err := url.Parse(k.v)
		if err != nil || u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has {
			p.Warnf(k.path, "the Redis password is written inline in the config file: write the URL as a ${ENV} reference (e.g. store: ${REDIS_URL})")
		}
	}
	for name, v := range c.Tracing.Headers {
		path := "tracing.headers." + name
		if v != "" && !c.fromEnv[path] && credentialHeader(name) {
			p.Warnf(path, "a collector credential is written inline in the config file: write it as a ${ENV} reference")
		}
	}
}

// credentialHeader reports whether a header name usually carries a credential.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	return n == "authorization" || strings.Contains(n, "key") || strings.Contains(n, "token") || strings.Contains(n, "secret")
}
