package config

import (
	"math"
	"net/url"
	"strings"
)

// Tracing configures OpenTelemetry tracing: one span per request with a
// child per stage, exported over OTLP/HTTP, with W3C trace context sent to
// the upstream. Off by default; when off the pipeline has no tracing code
// on its path. Reloadable: every pipeline owns its exporter (see
// docs/observability.md).
//
//	tracing:
//	  enabled: true
//	  endpoint: "https://otel-collector:4318"   # /v1/traces added when the path is empty
//	  headers: { authorization: "${OTLP_TOKEN}" }
//	  sample_ratio: 0.1
//	  trust_incoming: false
type Tracing struct {
	// Enabled turns tracing on (default false).
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP/HTTP collector URL, http(s)://host:port[/path];
	// an empty path or "/" becomes /v1/traces. Required when enabled.
	// http:// (plain text) needs insecure: true.
	Endpoint string `yaml:"endpoint"`
	// Protocol is the OTLP transport: only http/protobuf (the gRPC
	// exporter is not linked into the binary; see docs/observability.md).
	Protocol string `yaml:"protocol" enum:"http/protobuf"`
	// Insecure allows an http:// endpoint (spans, and the headers below,
	// sent unencrypted). Default false.
	Insecure bool `yaml:"insecure"`
	// Headers are sent with every export (collector credentials): write
	// secret values as ${ENV} references. Never logged.
	Headers map[string]string `yaml:"headers"`
	// ServiceName is the service.name of the exported spans (default "gatehouse").
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the fraction of new traces recorded and exported, 0
	// to 1 (default 1). Unsampled requests still send a traceparent upstream.
	SampleRatio float64 `yaml:"sample_ratio"`
	// TrustIncoming adopts a client's traceparent (and tracestate) as the
	// parent of the gateway's spans; only for a gateway behind an edge that
	// sets or sanitizes it. Default false: a new trace is started and the
	// client's trace is recorded as a span link, so a client cannot choose
	// the gateway's trace id or force sampling.
	TrustIncoming bool `yaml:"trust_incoming"`
}

// TracingProtocolHTTP is the only tracing.protocol value.
const TracingProtocolHTTP = "http/protobuf"

// setDefaults fills unset fields of Tracing before decoding overwrites them.
func (c *Tracing) setDefaults() {
	c.Protocol = TracingProtocolHTTP
	c.ServiceName = "gatehouse"
	c.SampleRatio = 1
}

// ExportURL returns Endpoint with /v1/traces as the path when it has none
// ("" when Endpoint does not parse; Validate reports that).
func (c *Tracing) ExportURL() string {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return ""
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
		u.RawPath = ""
	}
	return u.String()
}

// validate reports problems in Tracing; path is its YAML key path.
func (c *Tracing) validate(p *Problems, path string) {
	if c.Protocol != TracingProtocolHTTP {
		p.Errorf(path+".protocol", "protocol must be %s, not %q", TracingProtocolHTTP, c.Protocol)
	}
	if math.IsNaN(c.SampleRatio) || c.SampleRatio < 0 || c.SampleRatio > 1 {
		p.Errorf(path+".sample_ratio", "sample_ratio must be between 0 and 1")
	}
	if strings.TrimSpace(c.ServiceName) == "" {
		p.Errorf(path+".service_name", "service_name must not be empty")
	}
	for name, v := range c.Headers {
		hp := path + ".headers." + name
		if !validHeaderName(name) {
			p.Errorf(hp, "%q is not a valid header name", name)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			p.Errorf(hp, "header value contains a line break or NUL")
		}
	}
	if !c.Enabled {
		if c.Endpoint != "" {
			p.Warnf(path+".enabled", "tracing is not enabled: endpoint has no effect")
		}
		return
	}
	if c.Endpoint == "" {
		p.Errorf(path+".endpoint", "endpoint is required when tracing is enabled (for example \"https://otel-collector:4318\")")
		return
	}
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil:
		p.Errorf(path+".endpoint", "endpoint: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Errorf(path+".endpoint", "endpoint must be an http:// or https:// URL, not %q", c.Endpoint)
	case u.Host == "":
		p.Errorf(path+".endpoint", "endpoint %q has no host", c.Endpoint)
	case u.User != nil:
		p.Errorf(path+".endpoint", "endpoint must not carry credentials: put them in tracing.headers as a ${ENV} reference")
	case u.RawQuery != "" || u.Fragment != "":
		p.Errorf(path+".endpoint", "endpoint must not have a query or fragment")
	case u.Scheme == "http" && !c.Insecure:
		p.Errorf(path+".endpoint", "endpoint %q is plain http: spans and tracing.headers would travel unencrypted; use https or set insecure: true", c.Endpoint)
	case u.Scheme == "https" && c.Insecure:
		p.Warnf(path+".insecure", "insecure has no effect with an https endpoint (the certificate is still verified)")
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
