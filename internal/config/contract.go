package config

import (
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/respfilter"
)

// Request configures request validation against the OpenAPI contract:
//
//	request:
//	  validate: true                   # params, content type, body schema
//	  max_body: 1MiB                   # 0: limits.max_body
//	  max_depth: 32                    # JSON nesting
//	  max_string_length: 64KiB
//	  max_array_length: 10000
//	  max_object_keys: 1000            # also: urlencoded form fields
//	  max_parts: 0                     # multipart/form-data parts; 0: max_object_keys
//	  max_part_size: 0                 # one multipart part, files included; 0: max_body
//	  reject_unknown_properties: true  # undeclared properties are errors (mass assignment)
//	  detect_injection: true           # libinjection SQLi/XSS + NoSQL operators on free strings
//	  mode: ""                         # enforce | monitor; empty follows the route
//	  operations:
//	    updateSettings: { reject_unknown_properties: false }
//	    runDiagnostics: { shell_fields: ["/host"], path_fields: ["query:file"] }
type Request struct {
	// Validate turns request validation on (default true).
	Validate bool `yaml:"validate"`
	// MaxBody bounds the request body read for validation; 0 uses limits.max_body.
	MaxBody ByteSize `yaml:"max_body"`
	// MaxDepth bounds JSON nesting of objects and arrays.
	MaxDepth int `yaml:"max_depth"`
	// MaxStringLength bounds one JSON string (key or value) in bytes.
	MaxStringLength ByteSize `yaml:"max_string_length"`
	// MaxArrayLength bounds the elements of one JSON array.
	MaxArrayLength int `yaml:"max_array_length"`
	// MaxObjectKeys bounds the keys of one JSON object.
	MaxObjectKeys int `yaml:"max_object_keys"`
	// MaxParts bounds the parts of a multipart/form-data body; 0 uses max_object_keys.
	MaxParts int `yaml:"max_parts"`
	// MaxPartSize bounds one multipart part, files included; 0 uses max_body.
	// Bodies are held in memory within max_body, never spooled to disk.
	MaxPartSize ByteSize `yaml:"max_part_size"`
	// RejectUnknownProperties treats properties the schema does not declare
	// as errors even where the spec leaves objects open (default true).
	RejectUnknownProperties bool `yaml:"reject_unknown_properties"`
	// DetectInjection inspects free-form strings (no pattern, enum, format or
	// const) for SQL injection, XSS and NoSQL operators (default true).
	DetectInjection bool `yaml:"detect_injection"`
	// Mode forces enforce or monitor for this stage; empty follows the route's mode.
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// Operations overrides settings per operation (operationId or "METHOD /template").
	Operations map[string]RequestOperation `yaml:"operations"`
	// RejectUnknownQuery refuses query parameters the operation does not
	// declare (400) on every operation, public ones included (default false).
	RejectUnknownQuery bool `yaml:"reject_unknown_query"`
	// AllowTrailers lists the request trailer fields forwarded upstream
	// (default none: every request trailer is dropped and counted).
	// Identity, override, forwarding and framing names are refused.
	AllowTrailers []string `yaml:"allow_trailers"`
	// StrictFraming refuses (400, connection closed) request header blocks
	// with obs-fold lines or bare-LF line endings, beside what is always
	// refused (Transfer-Encoding with Content-Length, and other framing
	// ambiguities). HTTP/1.x, plain and over TLS. Default true.
	StrictFraming bool `yaml:"strict_framing"`
}

// RequestOperation overrides request validation for one operation.
type RequestOperation struct {
	// RejectUnknownProperties opts this operation out of (false) or into
	// (true) undeclared-property rejection.
	RejectUnknownProperties *bool `yaml:"reject_unknown_properties"`
	// ShellFields lists body JSON pointers ("/host") or "query:name" whose
	// values are also checked for shell metacharacters.
	ShellFields []string `yaml:"shell_fields"`
	// PathFields lists body JSON pointers or "query:name" also checked for
	// path traversal.
	PathFields []string `yaml:"path_fields"`
	// Credential marks the operation as registration or password change:
	// the named body field is checked against the password policy before
	// the request reaches the upstream (also: x-gatehouse-credential in the spec).
	Credential *Credential `yaml:"credential"`
}

// Credential is the password policy of one registration or password-change
// operation (request.operations.<op>.credential, or the operation's
// x-gatehouse-credential extension with the same keys):
//
//	credential: { field: password, user_fields: [username, email], min_length: 12, max_length: 128 }
//
// It sits beside shell_fields and path_fields because it is one more check
// of one operation's body fields, keyed like every per-operation setting.
type Credential struct {
	// Field is the top-level JSON body property holding the new password,
	// matched case-insensitively like encoding/json does (default password).
	Field string `yaml:"field"`
	// UserFields are top-level body properties (username, email) whose values
	// the password must not equal or contain (case-insensitive, values of 4+ characters).
	UserFields []string `yaml:"user_fields"`
	// MinLength is the shortest password in Unicode code points after NFC (default 12).
	MinLength int `yaml:"min_length"`
	// MaxLength is the longest password in code points (default 128): it bounds the upstream's hashing cost.
	MaxLength int `yaml:"max_length"`
}

// setDefaults fills unset fields of Credential before decoding overwrites them.
func (c *Credential) setDefaults() {
	c.Field = "password"
	c.MinLength = 12
	c.MaxLength = 128
}

// validate reports problems in Credential; path is its YAML key path.
func (c *Credential) validate(p *Problems, path string) {
	if strings.TrimSpace(c.Field) == "" {
		p.Errorf(path+".field", "field must name the body property holding the password")
	}
	if c.MinLength < 1 {
		p.Errorf(path+".min_length", "min_length must be at least 1")
	} else if c.MinLength < 8 {
		p.Warnf(path+".min_length", "min_length %d is below 8: NIST SP 800-63B asks for at least 8", c.MinLength)
	}
	if c.MaxLength < c.MinLength {
		p.Errorf(path+".max_length", "max_length %d is below min_length %d", c.MaxLength, c.MinLength)
	} else if c.MaxLength > 4096 {
		p.Errorf(path+".max_length", "max_length %d is too large (at most 4096): it bounds the upstream's hashing cost", c.MaxLength)
	}
	for i, f := range c.UserFields {
		if strings.TrimSpace(f) == "" {
			p.Errorf(path+".user_fields["+strconv.Itoa(i)+"]", "user field must not be empty")
		}
	}
}

// Response configures response handling against the contract:
//
//	response:
//	  mode: filter            # filter (strip undeclared) | validate (502 if non-conforming) | off
//	  mask_fields: [password, password_hash, ssn, secret, token, api_key]
//	  mask_card_numbers: true # Luhn-valid card numbers keep only their last four digits
//	  max_body: 1MiB          # responses buffered for filtering at most this large
//	  oversize: block         # block (502) | pass (unfiltered, logged)
//	  on_mismatch: block      # undeclared status/content type/shape: block (502) | pass (reduced, logged)
//	  operations:
//	    login: { unmask: [token] }
//	    getUser: { mode: validate, status: { "404": off } }
type Response struct {
	// Mode is filter, validate or off.
	Mode string `yaml:"mode" enum:"filter,validate,off"`
	// MaskFields are property names removed from every JSON response, at any
	// depth, even when declared (case-insensitive, '_' and '-' ignored).
	MaskFields []string `yaml:"mask_fields"`
	// MaskCardNumbers masks strings that look like payment card numbers.
	MaskCardNumbers bool `yaml:"mask_card_numbers"`
	// MaxBody bounds the buffered response.
	MaxBody ByteSize `yaml:"max_body"`
	// Oversize is what happens to larger (or unbounded streaming) JSON
	// responses: block or pass.
	Oversize string `yaml:"oversize" enum:"block,pass"`
	// OnMismatch is what happens, in filter and validate modes, to a
	// response the operation does not declare (status code, content type,
	// JSON sent without a Content-Type or in a charset other than UTF-8, or
	// a top-level type other than the schema's): block (generic 502) or
	// pass (JSON reduced to what is declared, sensitive fields masked). Both
	// are logged and counted.
	OnMismatch string `yaml:"on_mismatch" enum:"block,pass"`
	// Operations overrides settings per operation.
	Operations map[string]ResponseOperation `yaml:"operations"`
}

// ResponseOperation overrides response handling for one operation.
type ResponseOperation struct {
	// Mode overrides response.mode: filter, validate or off.
	Mode string `yaml:"mode" enum:"filter,validate,off"`
	// Status overrides the mode per status code ("200", "4XX", "default").
	Status map[string]string `yaml:"status"`
	// Unmask lists mask_fields this operation may return (e.g. token for login).
	Unmask []string `yaml:"unmask"`
}

// setDefaults fills unset fields of Request before decoding overwrites them.
func (c *Request) setDefaults() {
	c.Validate = true
	c.MaxDepth = 32
	c.MaxStringLength = 64 << 10
	c.MaxArrayLength = 10000
	c.MaxObjectKeys = 1000
	c.RejectUnknownProperties = true
	c.DetectInjection = true
	c.StrictFraming = true
}

// validate reports problems in Request; path is its YAML key path.
func (c *Request) validate(p *Problems, path string) {
	if c.MaxBody < 0 {
		p.Errorf(path+".max_body", "max_body must not be negative")
	}
	if c.MaxParts < 0 {
		p.Errorf(path+".max_parts", "max_parts must not be negative")
	}
	if c.MaxPartSize < 0 {
		p.Errorf(path+".max_part_size", "max_part_size must not be negative")
	}
	for _, f := range []struct {
		key string
		v   int64
		min int64
	}{
		{"max_depth", int64(c.MaxDepth), 1},
		{"max_string_length", int64(c.MaxStringLength), 1},
		{"max_array_length", int64(c.MaxArrayLength), 1},
		{"max_object_keys", int64(c.MaxObjectKeys), 1},
	} {
		if f.v < f.min {
			p.Errorf(path+"."+f.key, "%s must be at least %d", f.key, f.min)
		}
	}
	if c.MaxDepth > 1000 {
		p.Errorf(path+".max_depth", "max_depth %d is too large (at most 1000)", c.MaxDepth)
	}
	checkMode(p, path+".mode", c.Mode, true)
	for i, t := range c.AllowTrailers {
		if err := proxy.CheckTrailerName(t); err != nil {
			p.Errorf(path+".allow_trailers["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	if !c.Validate && (c.RejectUnknownProperties || c.DetectInjection) {
		p.Warnf(path+".validate", "validate is false: reject_unknown_properties and detect_injection have no effect")
	}
	for key, o := range c.Operations {
		opath := path + ".operations." + key
		if err := checkRouteKey(key); err != nil {
			p.Errorf(opath, "%v", err)
		}
		if o.Credential != nil {
			o.Credential.validate(p, opath+".credential")
		}
		for name, fields := range map[string][]string{"shell_fields": o.ShellFields, "path_fields": o.PathFields} {
			for i, f := range fields {
				if !strings.HasPrefix(f, "/") && !strings.HasPrefix(f, "query:") && !strings.HasPrefix(f, "path:") {
					p.Errorf(opath+"."+name+"["+strconv.Itoa(i)+"]",
						"%q must be a JSON pointer (\"/host\") or \"query:name\" / \"path:name\"", f)
				}
			}
		}
	}
}

// setDefaults fills unset fields of Response before decoding overwrites them.
func (c *Response) setDefaults() {
	c.Mode = "filter"
	c.MaskFields = append([]string(nil), respfilter.DefaultMask...)
	c.MaskCardNumbers = true
	c.MaxBody = 1 << 20
	c.Oversize = "block"
	c.OnMismatch = "block"
}

// validate reports problems in Response; path is its YAML key path.
func (c *Response) validate(p *Problems, path string) {
	if _, err := respfilter.ParseMode(c.Mode); err != nil || c.Mode == "" {
		p.Errorf(path+".mode", "mode must be filter, validate or off, not %q", c.Mode)
	}
	if c.Mode == "off" {
		p.Warnf(path+".mode", "response mode is off: undeclared fields (password hashes, internal notes) reach clients")
	}
	switch c.Oversize {
	case "block", "pass":
	default:
		p.Errorf(path+".oversize", "oversize must be block or pass, not %q", c.Oversize)
	}
	switch c.OnMismatch {
	case "block", "pass":
	default:
		p.Errorf(path+".on_mismatch", "on_mismatch must be block or pass, not %q", c.OnMismatch)
	}
	if c.MaxBody < 1<<10 {
		p.Errorf(path+".max_body", "max_body must be at least 1KiB")
	}
	for i, f := range c.MaskFields {
		if strings.TrimSpace(f) == "" {
			p.Errorf(path+".mask_fields["+strconv.Itoa(i)+"]", "mask field name is empty")
		}
	}
	for key, o := range c.Operations {
		opath := path + ".operations." + key
		if err := checkRouteKey(key); err != nil {
			p.Errorf(opath, "%v", err)
		}
		if o.Mode != "" {
			if _, err := respfilter.ParseMode(o.Mode); err != nil {
				p.Errorf(opath+".mode", "mode must be filter, validate or off, not %q", o.Mode)
			}
		}
		for code, m := range o.Status {
			if !validStatusKey(code) {
				p.Errorf(opath+".status."+code, "status key %q must be a code (\"404\"), a range (\"4XX\") or \"default\"", code)
			}
			if _, err := respfilter.ParseMode(m); err != nil || m == "" {
				p.Errorf(opath+".status."+code, "mode must be filter, validate or off, not %q", m)
			}
		}
	}
}

func validStatusKey(k string) bool {
	if k == "default" {
		return true
	}
	if len(k) != 3 || k[0] < '1' || k[0] > '5' {
		return false
	}
	if strings.EqualFold(k[1:], "XX") {
		return true
	}
	_, err := strconv.Atoi(k)
	return err == nil
}
