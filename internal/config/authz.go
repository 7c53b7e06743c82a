package config

// Authz configures authorization (issue: authorization). Owned by the authz work.
type Authz struct{}
