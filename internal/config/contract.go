package config

// Request configures request validation (issue: contract enforcement).
type Request struct{}

// Response configures response filtering (issue: contract enforcement).
type Response struct{}
