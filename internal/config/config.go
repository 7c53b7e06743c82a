// Package config holds gatehouse's YAML configuration: the structs, their
// defaults, Load (strict decode, unknown keys are errors) and Validate (every
// problem reported with file, line, column and key path).
//
// Each section lives in its own file (authn.go, authz.go, ratelimit.go,
// contract.go, core.go) with its defaults and validation next to its fields.
// Public packages never import this package: internal/gateway translates it
// into their option types.
//
// Conventions every section follows (the loader and the schema generator
// rely on them):
//
//   - Keys are snake_case `yaml:"..."` tags (an untagged exported field is
//     its lower-cased name, as in yaml.v3; `yaml:"-"` hides a field).
//   - setDefaults() on a section type is called by Default(); the decoder
//     also calls setDefaults() on every struct value it allocates (a list
//     item, a map value, a pointer), so list items get their defaults too.
//   - validate(p *Problems, path string) reports problems by key path
//     ("authn.jwt[0].issuer"; map keys joined with "."). A path that is not
//     in the file is reported at its nearest parent key.
//   - `path:"file"` on a string or []string field: a relative value is
//     resolved against the config file's directory (values with "://" are
//     left alone).
//   - `required:"true"`: Validate reports the field when it is empty, and
//     the JSON Schema lists it as required.
//   - `enum:"a,b"`: the JSON Schema restricts the value (validate() still
//     checks it: the schema is for editors).
//   - `doc:"..."`: the schema description; without it the field's Go doc
//     comment is used when the schema is regenerated.
//
// Why yaml.v3 and a hand-written strict decoder over yaml.v3 nodes: v3 keeps
// line and column on every node; its own KnownFields errors carry neither a
// column nor a key path, which `gatehouse validate` must print.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
)

// Config is the whole gateway configuration. Load returns it; after
// Validate it is treated as immutable and may be shared between goroutines.
type Config struct {
	// Listen is the public listener address, e.g. ":8080".
	Listen string `yaml:"listen"`
	// Admin is the admin listener (/metrics, /healthz, /readyz); "" (the default) disables it.
	Admin string `yaml:"admin"`
	// Upstream is the base URL of the protected API (absolute http or https URL).
	Upstream string `yaml:"upstream" required:"true"`
	// Spec is the OpenAPI document path, relative to the config file; routes not in it are denied.
	Spec string `yaml:"spec" path:"file" required:"true"`
	// SpecOverlays lists OpenAPI Overlay 1.0 documents (paths relative to
	// the config file) applied to the spec, in order, when it is loaded and
	// on every reload: bound fields, remove operations, add x-gatehouse-*
	// settings in a spec you cannot edit (see docs/spec-model.md).
	SpecOverlays []string `yaml:"spec_overlays" path:"file"`
	// BasePath is the path prefix clients put before the spec's path templates
	// ("/v1"). Empty (the default) takes it from the spec's servers[].url;
	// "/" means none. Requests outside it are 404; upstream, the upstream
	// URL's path takes its place (upstream http://app/v1 keeps /v1).
	BasePath string `yaml:"base_path"`
	// SpecStrictPatterns refuses a spec with a `pattern` or
	// `patternProperties` regexp that neither RE2 nor the ECMAScript engine
	// compiles; by default (false) that one constraint is skipped with a
	// `gatehouse validate` warning naming where it is.
	SpecStrictPatterns bool `yaml:"spec_strict_patterns"`
	// Mode is the default stage mode: enforce (block) or monitor (log what would be blocked, let it pass).
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// Routes overrides settings per operation (key: operationId or "METHOD /template").
	Routes map[string]RouteOverride `yaml:"routes"`

	// TLS terminates TLS on the public listener (cert_file and key_file).
	TLS TLS `yaml:"tls"`
	// Timeouts of the listener and of upstream calls.
	Timeouts Timeouts `yaml:"timeouts"`
	// Limits bound what a client may send (header bytes, body size).
	Limits Limits `yaml:"limits"`
	// TrustedProxies lists the IPs or CIDRs whose X-Forwarded-For is honoured.
	TrustedProxies []string `yaml:"trusted_proxies"`

	// Authn configures authentication (see docs/authn.md).
	Authn Authn `yaml:"authn"`
	// Authz configures authorization (see docs/authz.md).
	Authz Authz `yaml:"authz"`
	// RateLimits configures rate limiting (see docs/ratelimit.md).
	RateLimits RateLimits `yaml:"rate_limits"`
	// Request configures request validation against the spec (see docs/contract.md).
	Request Request `yaml:"request"`
	// Response configures response filtering against the spec (see docs/contract.md).
	Response Response `yaml:"response"`
	// WAF configures the optional Coraza + OWASP CRS stage, off by default (see docs/waf.md).
	WAF WAF `yaml:"waf"`
	// Errors controls what error responses reveal.
	Errors Errors `yaml:"errors"`
	// Headers configures security headers.
	Headers Headers `yaml:"headers"`
	// CORS configures cross-origin resource sharing.
	CORS CORS `yaml:"cors"`
	// Log configures the process and access/audit log.
	Log Log `yaml:"log"`
	// AdminAuth is the bearer token of POST /-/reload and /-/revoke; required
	// when admin is not loopback (see docs/gateway.md).
	AdminAuth AdminAuth `yaml:"admin_auth"`
	// Forwarding sets the X-Forwarded-Host sent upstream (see docs/gateway.md).
	Forwarding Forwarding `yaml:"forwarding"`
	// Cookies enforces Secure/HttpOnly/SameSite on upstream cookies and CSRF protection for cookie requests (see docs/gateway.md).
	Cookies Cookies `yaml:"cookies"`
	// Pprof serves Go's runtime profiles (net/http/pprof, under
	// /debug/pprof/) on the admin listener; off by default and never on
	// the public listener. It needs admin; when admin_auth sets a token
	// the profiles need it too. A CPU profile costs CPU while it runs.
	Pprof bool `yaml:"pprof"`
	// Tracing configures OpenTelemetry tracing over OTLP/HTTP, off by default (see docs/observability.md).
	Tracing Tracing `yaml:"tracing"`

	// File is the path the config was loaded from (set by Load).
	File string `yaml:"-"`

	pos      map[string]position // key path -> positions, built once by Load
	warnings []Problem           // set by Validate
	fromEnv  map[string]bool     // key paths whose value came from ${ENV} (set by Load)
}

// RouteOverride holds per-operation settings.
type RouteOverride struct {
	// Mode overrides the global mode for this operation: enforce or monitor.
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// Deny removes the operation from the effective spec (an overlay
	// action applied after spec_overlays): it is answered like any
	// undeclared route (404, or 405 when its path has other methods) and
	// never reaches the upstream.
	Deny bool `yaml:"deny"`
	// Mask lists response property names removed from this operation's
	// JSON responses at any depth, like response.mask_fields
	// (case-insensitive, '_' and '-' ignored).
	Mask []string `yaml:"mask"`
	// Constraints adds JSON Schema keywords to request fields of this
	// operation (an overlay action applied after spec_overlays). Keys:
	// "query:NAME", "path:NAME", "header:NAME", "cookie:NAME", or a JSON
	// pointer into the request body ("/title", "/address/city", "/tags/0"
	// for array items).
	Constraints map[string]FieldConstraint `yaml:"constraints"`
}

// FieldConstraint lists the JSON Schema keywords a routes.<op>.constraints
// entry adds to one request field; a keyword already in the spec is
// replaced.
type FieldConstraint struct {
	// MaxLength is the maximum length of a string.
	MaxLength *int64 `yaml:"max_length"`
	// MinLength is the minimum length of a string.
	MinLength *int64 `yaml:"min_length"`
	// Pattern is an ECMA-262 regular expression the string must match (anchor it with ^...$).
	Pattern string `yaml:"pattern"`
	// Format is a JSON Schema format (uuid, email, date-time, ...).
	Format string `yaml:"format"`
	// Enum lists the allowed values (typed after the field's schema type).
	Enum []string `yaml:"enum"`
	// Minimum is the smallest allowed number.
	Minimum *float64 `yaml:"minimum"`
	// Maximum is the largest allowed number.
	Maximum *float64 `yaml:"maximum"`
	// MaxItems is the maximum number of array items.
	MaxItems *int64 `yaml:"max_items"`
}

// Mode values.
const (
	ModeEnforce = "enforce"
	ModeMonitor = "monitor"
)

// Default returns a Config with every default set: listen ":8080", mode
// enforce, admin off, and each section's setDefaults().
func Default() *Config {
	c := &Config{
		Listen: ":8080",
		Mode:   ModeEnforce,
	}
	forEachSection(c, func(_ string, v reflect.Value) {
		if d, ok := v.Addr().Interface().(defaulter); ok {
			d.setDefaults()
		}
	})
	return c
}

// defaulter is implemented by section (and item) types with defaults.
type defaulter interface{ setDefaults() }

// validator is implemented by section types that check themselves.
type validator interface {
	validate(p *Problems, path string)
}

// forEachSection calls f with the YAML key and addressable value of every
// struct-typed top-level field (the sections).
func forEachSection(c *Config, f func(key string, v reflect.Value)) {
	rv := reflect.ValueOf(c).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		key, ok := yamlKey(sf)
		if !ok || sf.Type.Kind() != reflect.Struct {
			continue
		}
		f(key, rv.Field(i))
	}
}

// Validate checks the whole config and returns a *ValidationError listing
// every error (and the warnings) with file positions, or nil when there is
// no error. Warnings alone do not fail; they are kept for Warnings().
// Validate is not safe for concurrent use with itself.
func (c *Config) Validate() error {
	var p Problems
	c.validate(&p)
	return c.finish(&p)
}

// finish locates p's problems, keeps the warnings and returns the errors.
func (c *Config) finish(p *Problems) error {
	c.locateAll(p.List)
	sortProblems(p.List)
	c.warnings = filterProblems(p.List, true)
	if !p.HasErrors() {
		return nil
	}
	return &ValidationError{Problems: p.List}
}

// Warnings returns the warnings found by the last Validate, located.
func (c *Config) Warnings() []Problem { return c.warnings }

func (c *Config) validate(p *Problems) {
	checkRequired(p, reflect.ValueOf(c).Elem(), "")
	if c.Listen == "" {
		p.Errorf("listen", "listen is required (for example \":8080\")")
	} else if err := checkAddr(c.Listen); err != nil {
		p.Errorf("listen", "%v", err)
	}
	if c.Admin != "" {
		if err := checkAddr(c.Admin); err != nil {
			p.Errorf("admin", "%v", err)
		} else if c.Admin == c.Listen {
			p.Errorf("admin", "admin must not share the public listener %q", c.Listen)
		} else if !loopback(c.Admin) && !c.AdminAuth.Configured() {
			p.Errorf("admin", "admin listener %q is not loopback-only: set admin_auth.token_file or admin_auth.token_env (POST /-/reload and /-/revoke need a bearer token)", c.Admin)
		} else if !loopback(c.Admin) {
			p.Warnf("admin", "admin listener %q is not loopback-only: /metrics and /readyz become reachable from the network", c.Admin)
		}
	}
	if c.Upstream != "" {
		if err := checkUpstream(c.Upstream); err != nil {
			p.Errorf("upstream", "%v", err)
		}
	}
	if c.Spec != "" && !strings.Contains(c.Spec, "://") {
		checkFile(p, "spec", "spec file", c.Spec)
	}
	if c.BasePath != "" && c.BasePath != "/" {
		if err := openapi.CheckBasePath(c.BasePath); err != nil {
			p.Errorf("base_path", "%v", err)
		}
	}
	checkMode(p, "mode", c.Mode, false)
	if c.Mode == ModeMonitor {
		p.Warnf("mode", "mode is monitor: violations are logged, not blocked")
	}
	for key, r := range c.Routes {
		path := "routes." + key
		if err := checkRouteKey(key); err != nil {
			p.Errorf(path, "%v", err)
		}
		checkMode(p, path+".mode", r.Mode, true)
		r.validateEdits(p, path)
	}
	for i, f := range c.SpecOverlays {
		checkFile(p, "spec_overlays["+strconv.Itoa(i)+"]", "overlay file", f)
	}
	for i, tp := range c.TrustedProxies {
		path := "trusted_proxies[" + strconv.Itoa(i) + "]"
		pfx, err := parseProxy(tp)
		if err != nil {
			p.Errorf(path, "%v", err)
			continue
		}
		if pfx.Bits() == 0 {
			p.Warnf(path, "%q trusts X-Forwarded-For from every client: any client can spoof its IP", tp)
		}
	}
	forEachSection(c, func(key string, v reflect.Value) {
		if s, ok := v.Addr().Interface().(validator); ok {
			s.validate(p, key)
		}
	})
	checkAuthnNeeded(p, c)
	checkInlineSecrets(p, c)
	checkPprof(p, c)
}

// checkPprof: the profiles live on the admin listener only.
func checkPprof(p *Problems, c *Config) {
	if !c.Pprof {
		return
	}
	if c.Admin == "" {
		p.Errorf("pprof", "pprof needs the admin listener: set admin (for example \"127.0.0.1:9090\")")
		return
	}
	p.Warnf("pprof", "pprof is on: /debug/pprof/ on the admin listener exposes goroutine stacks and the command line; turn it off after profiling")
}

// checkFile reports at path a file that cannot be stat'ed or is a directory.
func checkFile(p *Problems, path, what, f string) {
	if st, err := os.Stat(f); err != nil {
		p.Errorf(path, "%s %q: %v", what, f, unwrapPathError(err))
	} else if st.IsDir() {
		p.Errorf(path, "%s %q is a directory", what, f)
	}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func checkMode(p *Problems, path, mode string, allowEmpty bool) {
	switch mode {
	case ModeEnforce, ModeMonitor:
	case "":
		if !allowEmpty {
			p.Errorf(path, "mode must be enforce or monitor")
		}
	default:
		p.Errorf(path, "mode must be enforce or monitor, not %q", mode)
	}
}

// checkAddr accepts "host:port" and ":port" with a numeric port.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want host:port or :port", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: port must be a number from 0 to 65535", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("address %q: invalid host", addr)
	}
	return nil
}

func loopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// checkUpstream wants an absolute http(s) URL with a host and no user info,
// query or fragment (they would be silently merged into every request).
func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("upstream %q is not a URL", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("upstream %q must be an absolute http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("upstream %q has no host", s)
	case u.User != nil:
		return fmt.Errorf("upstream URL must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("upstream %q must not have a query or fragment", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("upstream %q: bad port", s)
		}
	}
	return nil
}

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "TRACE": true,
}

// checkRouteKey accepts an operationId or "METHOD /template".
func checkRouteKey(k string) error {
	method, tmpl, ok := strings.Cut(k, " ")
	if !ok {
		if k == "" {
			return fmt.Errorf("route key must be an operationId or \"METHOD /template\"")
		}
		return nil
	}
	if !httpMethods[method] || !strings.HasPrefix(tmpl, "/") || strings.ContainsAny(tmpl, " \t") {
		return fmt.Errorf("route key %q must be an operationId or \"METHOD /template\" (upper-case method)", k)
	}
	return nil
}

// parseProxy parses an IP or CIDR; a bare IP is a /32 (or /128).
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not a valid CIDR", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q has host bits set; did you mean %s?", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not an IP or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkRequired reports empty fields tagged `required:"true"`, walking
// nested structs, list items, map values and non-nil pointers.
func checkRequired(p *Problems, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkRequired(p, v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			checkRequired(p, v.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			checkRequired(p, iter.Value(), joinPath(path, fmt.Sprint(iter.Key().Interface())))
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			key, ok := yamlKey(sf)
			if !ok {
				continue
			}
			fv := v.Field(i)
			if inline(sf) {
				checkRequired(p, fv, path)
				continue
			}
			fp := joinPath(path, key)
			if sf.Tag.Get("required") == "true" && fv.IsZero() {
				p.Errorf(fp, "%s is required", key)
				continue
			}
			checkRequired(p, fv, fp)
		}
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
