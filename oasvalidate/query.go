package oasvalidate

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// ErrQuery: the query string is not one unambiguous list of parameters.
var ErrQuery = errors.New("oasvalidate: malformed query string")

// ParseQuery decodes a raw query string with the strict urlencoded rules of
// ParseURLEncoded ('&' only: an unescaped ';' is an error, since some
// servers split on it; every escape valid; names and values valid UTF-8;
// at most lim.MaxFields parameters). The gateway's route stage runs it on
// every request and forwards CanonicalQuery of the result, so the upstream
// receives exactly the parameters that were validated.
func ParseQuery(raw string, lim FormLimits) ([]FormField, error) {
	fs, err := ParseURLEncoded([]byte(raw), lim)
	if err != nil {
		return nil, errors.Join(ErrQuery, err)
	}
	return fs, nil
}

// CanonicalQuery re-encodes decoded parameters in their order, every name
// and value escaped the same way ("a b" as "a+b", "/" as "%2F") and every
// parameter written as name=value.
func CanonicalQuery(fs []FormField) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.Value))
	}
	return b.String()
}

// compileQuery builds the form view of an operation's query parameters
// (style and explode per parameter, as for urlencoded bodies).
func compileQuery(c *compiledOp) {
	c.query = &formMedia{props: map[string]*formProp{}}
	for name, cp := range c.byQuery {
		if cp.p.Schema == nil || cp.schema == nil {
			continue // content-encoded parameters are left to libopenapi-validator
		}
		c.query.props[name] = newFormProp(cp.p.Schema.Schema(), &v3.Encoding{Style: cp.p.Style, Explode: cp.p.Explode})
		if cp.p.Required != nil && *cp.p.Required {
			c.queryRequired = append(c.queryRequired, name)
		}
	}
}

// queryErr turns a form-decoding error about a query parameter into a
// parameter error naming it.
func queryErr(e *Error) *Error {
	e.Kind = KindParameter
	e.Status = http.StatusBadRequest
	e.Field = strings.TrimPrefix(e.Field, "/")
	return e
}

// checkQuery validates the decoded query: every declared parameter with a
// schema is converted with the number grammar of the JSON reader
// (jsonx.ParseNumber) and validated; a non-array parameter sent twice is
// refused; an undeclared parameter is refused when RejectUnknownQuery is on.
func (v *Validator) checkQuery(fields []FormField, c *compiledOp) error {
	declared := fields[:0:0]
	for _, f := range fields {
		name := f.Name
		if base, _, ok := deepKey(name); ok && c.byQuery[name] == nil {
			if fp := c.query.props[base]; fp != nil && fp.style == "deepObject" {
				name = base
			}
		}
		if c.byQuery[name] == nil {
			if v.opts.RejectUnknownQuery {
				return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: f.Name,
					Reason: "undeclared query parameter " + strconv.Quote(f.Name)}
			}
			continue
		}
		if c.query.props[name] != nil {
			declared = append(declared, f)
		}
	}
	doc, _, ferr := v.formDoc(declared, c.query)
	if ferr != nil {
		return queryErr(ferr)
	}
	for name, val := range doc {
		cp := c.byQuery[name]
		if cp == nil || cp.schema == nil {
			continue
		}
		if err := cp.schema.Validate(val); err != nil {
			return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: name,
				Reason: "query parameter: " + err.Error(), Err: err}
		}
	}
	for _, name := range c.queryRequired {
		if _, ok := doc[name]; !ok {
			return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: name, Reason: "required query parameter missing"}
		}
	}
	return nil
}
