package config

// Authn configures authentication (issue: authentication). Owned by the authn work.
type Authn struct{}
