package config

// RateLimits configures rate limiting (issue: rate limiting). Owned by the rate-limit work.
type RateLimits struct{}

// setDefaults fills unset fields of RateLimits before decoding overwrites them.
func (c *RateLimits) setDefaults() {}

// validate reports problems in RateLimits; path is its YAML key path.
func (c *RateLimits) validate(p *Problems, path string) {}
