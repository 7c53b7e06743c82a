package config

// RateLimits configures rate limiting (issue: rate limiting). Owned by the rate-limit work.
type RateLimits struct{}
