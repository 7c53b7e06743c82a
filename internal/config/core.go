package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("5s", "1m30s"). A bare integer is rejected: "30" is ambiguous.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML decodes "5s"-style strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("duration: want a string like \"5s\"")
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("duration %q: want a value like \"5s\" or \"1m30s\"", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML encodes d as its string form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a size in bytes written in YAML as "512", "64KiB", "1MiB" or
// "1MB" (KiB/MiB/GiB are powers of 1024, KB/MB/GB powers of 1000).
type ByteSize int64

// ErrByteSize reports a malformed size.
var ErrByteSize = errors.New("invalid size")

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseByteSize parses "1MiB"-style sizes; negative values are rejected.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	num := s
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w %q: want a value like \"512\", \"64KiB\" or \"1MiB\"", ErrByteSize, s)
	}
	return ByteSize(n * mult), nil
}

// String formats b with the largest exact binary unit.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b/(1<<30))
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b/(1<<20))
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b/(1<<10))
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML decodes "1MiB"-style sizes or plain byte counts.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: want a value like \"1MiB\"", ErrByteSize)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML encodes b as its string form.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// TLS terminates TLS on the public listener when both files are set.
// TLS 1.2 is the minimum and only AEAD cipher suites with forward secrecy are
// offered; the key pair is re-read on every reload (certificate rotation).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled tells whether TLS termination is configured.
func (t *TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t *TLS) setDefaults() {}

func (t *TLS) validate(p *Problems, path string) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			p.Errorf(path+".cert_file", "cert_file is required when key_file is set")
		} else {
			p.Errorf(path+".key_file", "key_file is required when cert_file is set")
		}
	}
}

// Timeouts for the listener and the upstream.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers (slowloris).
	ReadHeader Duration `yaml:"read_header"`
	// Read bounds reading the whole request, body included.
	Read Duration `yaml:"read"`
	// Write bounds the time from the end of the request headers to the end of the response.
	Write Duration `yaml:"write"`
	// Idle bounds how long a keep-alive connection waits for the next request.
	Idle Duration `yaml:"idle"`
	// Shutdown bounds the drain of in-flight requests on SIGTERM and of an old pipeline on reload.
	Shutdown Duration `yaml:"shutdown"`
	// UpstreamDial bounds the TCP connect to the upstream.
	UpstreamDial Duration `yaml:"upstream_dial"`
	// UpstreamTLSHandshake bounds the TLS handshake with an https upstream.
	UpstreamTLSHandshake Duration `yaml:"upstream_tls_handshake"`
	// UpstreamResponseHeader bounds the wait for the upstream's response headers.
	UpstreamResponseHeader Duration `yaml:"upstream_response_header"`
	// UpstreamIdle is how long an idle pooled upstream connection is kept.
	UpstreamIdle Duration `yaml:"upstream_idle"`
}

func (t *Timeouts) setDefaults() {
	*t = Timeouts{
		ReadHeader:             Duration(5 * time.Second),
		Read:                   Duration(30 * time.Second),
		Write:                  Duration(60 * time.Second),
		Idle:                   Duration(120 * time.Second),
		Shutdown:               Duration(15 * time.Second),
		UpstreamDial:           Duration(5 * time.Second),
		UpstreamTLSHandshake:   Duration(5 * time.Second),
		UpstreamResponseHeader: Duration(30 * time.Second),
		UpstreamIdle:           Duration(90 * time.Second),
	}
}

func (t *Timeouts) validate(p *Problems, path string) {
	for _, f := range []struct {
		key string
		v   Duration
	}{
		{"read_header", t.ReadHeader}, {"read", t.Read}, {"write", t.Write}, {"idle", t.Idle},
		{"shutdown", t.Shutdown}, {"upstream_dial", t.UpstreamDial},
		{"upstream_tls_handshake", t.UpstreamTLSHandshake},
		{"upstream_response_header", t.UpstreamResponseHeader}, {"upstream_idle", t.UpstreamIdle},
	} {
		if f.v <= 0 {
			p.Errorf(path+"."+f.key, "%s must be positive (an unbounded timeout lets slow clients or upstreams pin connections)", f.key)
		}
	}
	if t.ReadHeader > 0 && t.Read > 0 && t.ReadHeader > t.Read {
		p.Warnf(path+".read_header", "read_header (%s) is longer than read (%s); read wins", t.ReadHeader, t.Read)
	}
}

// Limits bound what a client may send.
type Limits struct {
	// MaxHeaderBytes bounds the request line plus headers.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// MaxBody bounds the request body; larger bodies get 413.
	MaxBody ByteSize `yaml:"max_body"`
	// MaxConns caps the open connections of the public listener (0: no
	// cap). Over it, new connections wait in the kernel's accept queue
	// until one closes; the listener timeouts bound how long one is held.
	MaxConns int `yaml:"max_conns"`
}

func (l *Limits) setDefaults() {
	l.MaxHeaderBytes = 64 << 10
	l.MaxBody = 1 << 20
}

func (l *Limits) validate(p *Problems, path string) {
	if l.MaxHeaderBytes < 1<<10 {
		p.Errorf(path+".max_header_bytes", "max_header_bytes must be at least 1KiB")
	}
	if l.MaxBody <= 0 {
		p.Errorf(path+".max_body", "max_body must be positive")
	}
	if l.MaxConns < 0 {
		p.Errorf(path+".max_conns", "max_conns must be 0 (no cap) or positive")
	}
}

// Errors controls what error responses reveal.
type Errors struct {
	// ExposeDetails puts internal error text (Go errors, upstream status) in
	// problem bodies. Development only: validate warns when it is on.
	ExposeDetails bool `yaml:"expose_details"`
	// ValidationDetail says whether a validation problem names the failing
	// parameter or JSON pointer ("field", never the value) or nothing ("none").
	ValidationDetail string `yaml:"validation_detail"`
}

func (e *Errors) setDefaults() { e.ValidationDetail = "field" }

func (e *Errors) validate(p *Problems, path string) {
	if e.ExposeDetails {
		p.Warnf(path+".expose_details", "expose_details is on: internal error text reaches clients; use only in development")
	}
	switch e.ValidationDetail {
	case "field", "none":
	default:
		p.Errorf(path+".validation_detail", "validation_detail must be field or none, not %q", e.ValidationDetail)
	}
}

// Headers configures security headers.
type Headers struct {
	// Preset is strict (the default) or off.
	Preset string `yaml:"preset"`
	// HSTSMaxAge is the Strict-Transport-Security max-age (sent only over TLS).
	HSTSMaxAge Duration `yaml:"hsts_max_age"`
	// Add sets response headers on every response, after the preset and
	// remove (e.g. X-Frame-Options: DENY; Cache-Control: public, max-age=60
	// replaces the preset's no-store).
	Add map[string]string `yaml:"add"`
	// Remove deletes response headers from every response (e.g. X-Debug).
	Remove []string `yaml:"remove"`
}

func (h *Headers) setDefaults() {
	h.Preset = "strict"
	h.HSTSMaxAge = Duration(365 * 24 * time.Hour)
}

func (h *Headers) validate(p *Problems, path string) {
	switch h.Preset {
	case "strict", "off":
	default:
		p.Errorf(path+".preset", "preset must be strict or off, not %q", h.Preset)
	}
	if h.HSTSMaxAge < 0 {
		p.Errorf(path+".hsts_max_age", "hsts_max_age must not be negative")
	}
	if h.Preset == "off" {
		p.Warnf(path+".preset", "security headers are off")
	}
	for k, v := range h.Add {
		if err := checkResponseHeaderName(k); err != nil {
			p.Errorf(path+".add."+k, "%v", err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			p.Errorf(path+".add."+k, "value of %s contains a control character", k)
		}
	}
	for i, k := range h.Remove {
		if err := checkResponseHeaderName(k); err != nil {
			p.Errorf(fmt.Sprintf("%s.remove[%d]", path, i), "%v", err)
		}
	}
}

// checkResponseHeaderName accepts a header token that does not frame the
// response (headers.add / headers.remove may not touch framing).
func checkResponseHeaderName(k string) error {
	if k == "" {
		return errors.New("empty header name")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return fmt.Errorf("%q is not a header name", k)
		}
	}
	switch strings.ToLower(k) {
	case "content-length", "transfer-encoding", "connection", "trailer", "content-encoding", "content-type",
		"x-request-id", "keep-alive", "upgrade", "te":
		return fmt.Errorf("%s frames or identifies the response; it cannot be added or removed", k)
	}
	return nil
}

// CORS configures cross-origin resource sharing. CORS is off when
// AllowOrigins is empty: browsers then refuse cross-origin reads.
type CORS struct {
	// AllowOrigins lists exact origins ("https://app.example.com"); "*" allows any
	// origin but is refused together with AllowCredentials.
	AllowOrigins     []string `yaml:"allow_origins"`
	AllowCredentials bool     `yaml:"allow_credentials"`
	// AllowMethods defaults to GET, HEAD, POST, PUT, PATCH, DELETE.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders defaults to Authorization, Content-Type.
	AllowHeaders  []string `yaml:"allow_headers"`
	ExposeHeaders []string `yaml:"expose_headers"`
	// MaxAge is how long browsers may cache a preflight answer (default 10m).
	MaxAge Duration `yaml:"max_age"`
}

// Enabled tells whether CORS is configured.
func (c *CORS) Enabled() bool { return len(c.AllowOrigins) > 0 }

func (c *CORS) setDefaults() {
	c.MaxAge = Duration(10 * time.Minute)
}

func (c *CORS) validate(p *Problems, path string) {
	for i, o := range c.AllowOrigins {
		key := fmt.Sprintf("%s.allow_origins[%d]", path, i)
		if o == "*" {
			if c.AllowCredentials {
				p.Errorf(key, `"*" together with allow_credentials would let any site make credentialed requests; list the origins`)
			} else if len(c.AllowOrigins) > 1 {
				p.Errorf(key, `"*" must be the only origin`)
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			p.Errorf(key, "%v", err)
		}
	}
	for i, m := range c.AllowMethods {
		if m == "" || strings.ContainsAny(m, " ,\t") || m != strings.ToUpper(m) {
			p.Errorf(fmt.Sprintf("%s.allow_methods[%d]", path, i), "method %q must be one upper-case token", m)
		}
	}
	for i, h := range c.AllowHeaders {
		if h == "*" && c.AllowCredentials {
			p.Errorf(fmt.Sprintf("%s.allow_headers[%d]", path, i), `"*" is not honoured by browsers with credentials; list the headers`)
		}
	}
	if c.MaxAge < 0 {
		p.Errorf(path+".max_age", "max_age must not be negative")
	}
	if !c.Enabled() && (c.AllowCredentials || len(c.AllowMethods) > 0 || len(c.AllowHeaders) > 0) {
		p.Warnf(path, "cors settings have no effect without allow_origins")
	}
}

// checkOrigin accepts "scheme://host[:port]" with no path, query, userinfo or wildcard.
func checkOrigin(o string) error {
	if o == "null" {
		return fmt.Errorf(`origin "null" is sent by sandboxed iframes and local files; it cannot be allowed`)
	}
	if strings.Contains(o, "*") {
		return fmt.Errorf("origin %q: wildcards inside an origin are not supported; list each origin", o)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("origin %q must look like https://app.example.com[:port]", o)
	}
	return nil
}

// Log configures the process log, including the per-request access/audit line.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

func (l *Log) setDefaults() { l.Level, l.Format = "info", "json" }

func (l *Log) validate(p *Problems, path string) {
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error":
	default:
		p.Errorf(path+".level", "level must be debug, info, warn or error, not %q", l.Level)
	}
	switch l.Format {
	case "json", "text":
	default:
		p.Errorf(path+".format", "format must be json or text, not %q", l.Format)
	}
}

// Forwarding controls the X-Forwarded-Host the gateway sends upstream.
// Upstreams build absolute URLs (password-reset links, redirects) from it,
// so the client's Host header is never forwarded as is.
type Forwarding struct {
	// Host is the public host name sent as X-Forwarded-Host on every request
	// ("api.example.com"); it wins over AllowedHosts.
	Host string `yaml:"host"`
	// AllowedHosts lists the Host values (any case; with the port when
	// clients send one) forwarded as X-Forwarded-Host when Host is empty.
	// Any other Host sends no X-Forwarded-Host.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

func (f *Forwarding) validate(p *Problems, path string) {
	check := func(key, h string) {
		if h == "" || strings.ContainsAny(h, "/ \t\r\n@?#,") {
			p.Errorf(key, "%q must be a host name, optionally with :port", h)
		}
	}
	if f.Host != "" {
		check(path+".host", f.Host)
	}
	for i, h := range f.AllowedHosts {
		check(fmt.Sprintf("%s.allowed_hosts[%d]", path, i), h)
	}
}

// AdminAuth protects the mutating admin endpoints (POST /-/reload,
// POST /-/revoke) with a bearer token. It is required when the admin
// listener is not loopback-only: anyone who can reach it could otherwise
// reload the config or log users out. /healthz, /readyz and /metrics stay open.
type AdminAuth struct {
	// TokenFile is a file holding the token (surrounding whitespace trimmed).
	TokenFile string `yaml:"token_file" path:"file"`
	// TokenEnv names an environment variable holding the token.
	TokenEnv string `yaml:"token_env"`
	// AllowWeakSecret accepts a token found in the embedded list of published weak secrets (validate warns instead of refusing).
	AllowWeakSecret bool `yaml:"allow_weak_secret"`
}

// Configured tells whether a token source is set.
func (a *AdminAuth) Configured() bool { return a.TokenFile != "" || a.TokenEnv != "" }

// MinAdminTokenLen is the shortest admin token accepted, in bytes.
const MinAdminTokenLen = 16

// ErrAdminToken: the admin token is missing or too short.
var ErrAdminToken = errors.New("admin token")

// Token reads the token from TokenFile or TokenEnv; nil when none is configured.
func (a *AdminAuth) Token() (SecretBytes, error) {
	var tok string
	switch {
	case a.TokenFile != "":
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %w", ErrAdminToken, a.TokenFile, err)
		}
		tok = strings.TrimSpace(string(b))
	case a.TokenEnv != "":
		tok = strings.TrimSpace(os.Getenv(a.TokenEnv))
	default:
		return nil, nil
	}
	if len(tok) < MinAdminTokenLen {
		return nil, fmt.Errorf("%w: shorter than %d bytes (or empty)", ErrAdminToken, MinAdminTokenLen)
	}
	return SecretBytes(tok), nil
}

func (a *AdminAuth) validate(p *Problems, path string) {
	if a.TokenFile != "" && a.TokenEnv != "" {
		p.Errorf(path, "set token_file or token_env, not both")
	}
	if tok, err := a.Token(); err == nil && tok != nil && WeakSecret(string(tok)) {
		if a.AllowWeakSecret {
			p.Warnf(path, "the admin token is in the embedded list of published weak secrets (allow_weak_secret): anyone can guess it")
		} else {
			p.Errorf(path, "the admin token is in the embedded list of published weak secrets: anyone can guess it and reload the config or log users out; use 16+ random bytes (allow_weak_secret: true accepts it anyway)")
		}
	}
}
