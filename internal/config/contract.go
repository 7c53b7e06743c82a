package config

// Request configures request validation (issue: contract enforcement).
type Request struct{}

// Response configures response filtering (issue: contract enforcement).
type Response struct{}

// setDefaults fills unset fields of Request before decoding overwrites them.
func (c *Request) setDefaults() {}

// validate reports problems in Request; path is its YAML key path.
func (c *Request) validate(p *Problems, path string) {}

// setDefaults fills unset fields of Response before decoding overwrites them.
func (c *Response) setDefaults() {}

// validate reports problems in Response; path is its YAML key path.
func (c *Response) validate(p *Problems, path string) {}
