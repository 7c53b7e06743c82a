package config

// Authn configures authentication (issue: authentication). Owned by the authn work.
type Authn struct{}

// setDefaults fills unset fields of Authn before decoding overwrites them.
func (c *Authn) setDefaults() {}

// validate reports problems in Authn; path is its YAML key path.
func (c *Authn) validate(p *Problems, path string) {}
