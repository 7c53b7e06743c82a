// Package config holds gatehouse's YAML configuration: the structs, their
// defaults, Load (strict decode, unknown keys are errors) and Validate (every
// problem reported with file, line, column and key path).
//
// Each section lives in its own file (authn.go, authz.go, ratelimit.go,
// contract.go, ...) with its defaults and validation next to its fields.
// Public packages never import this package: internal/gateway translates it
// into their option types.
package config

// Config is the whole gateway configuration.
type Config struct {
	// Listen is the public listener address, e.g. ":8080".
	Listen string `yaml:"listen"`
	// Admin is the admin listener (/metrics, /healthz, /readyz); "" disables it.
	Admin string `yaml:"admin"`
	// Upstream is the base URL of the protected API.
	Upstream string `yaml:"upstream"`
	// Spec is the OpenAPI document path, relative to the config file.
	Spec string `yaml:"spec"`
	// Mode is the default stage mode: enforce or monitor.
	Mode string `yaml:"mode"`
	// Routes overrides settings per operation (key: operationId or "METHOD /template").
	Routes map[string]RouteOverride `yaml:"routes"`

	TLS            TLS      `yaml:"tls"`
	Timeouts       Timeouts `yaml:"timeouts"`
	Limits         Limits   `yaml:"limits"`
	TrustedProxies []string `yaml:"trusted_proxies"`

	Authn      Authn      `yaml:"authn"`
	Authz      Authz      `yaml:"authz"`
	RateLimits RateLimits `yaml:"rate_limits"`
	Request    Request    `yaml:"request"`
	Response   Response   `yaml:"response"`
	Errors     Errors     `yaml:"errors"`
	Headers    Headers    `yaml:"headers"`
	CORS       CORS       `yaml:"cors"`
	Log        Log        `yaml:"log"`

	// File is the path the config was loaded from (set by Load).
	File string `yaml:"-"`
}

// RouteOverride holds per-operation settings.
type RouteOverride struct {
	// Mode overrides the global mode for this operation.
	Mode string `yaml:"mode"`
}
