package config

// TLS terminates TLS on the public listener when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Timeouts for the listener and the upstream.
type Timeouts struct{}

// Limits bound what a client may send.
type Limits struct{}

// Errors controls what error responses reveal.
type Errors struct{}

// Headers configures security headers.
type Headers struct{}

// CORS configures cross-origin resource sharing.
type CORS struct{}

// Log configures the access/audit log.
type Log struct{}
