package config

// Authz configures authorization (issue: authorization). Owned by the authz work.
type Authz struct{}

// setDefaults fills unset fields of Authz before decoding overwrites them.
func (c *Authz) setDefaults() {}

// validate reports problems in Authz; path is its YAML key path.
func (c *Authz) validate(p *Problems, path string) {}
