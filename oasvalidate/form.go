package oasvalidate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/jsonx"
)

// Media types whose bodies are decoded field by field.
const (
	mediaForm      = "application/x-www-form-urlencoded"
	mediaMultipart = "multipart/form-data"
)

// Form decoding errors (wrapped in *Error with KindSyntax; check with errors.Is).
var (
	ErrFormSyntax     = errors.New("oasvalidate: malformed form body")
	ErrFormDuplicate  = errors.New("oasvalidate: duplicate form field")
	ErrFormTooMany    = errors.New("oasvalidate: too many form fields or parts")
	ErrFormPartSize   = errors.New("oasvalidate: multipart part too large")
	ErrFormBoundary   = errors.New("oasvalidate: bad multipart boundary")
	ErrFormPartHeader = errors.New("oasvalidate: bad multipart part header")
)

// formMedia is the compiled form view of a form or multipart media type:
// how each top-level property is serialized.
type formMedia struct {
	multipart bool
	props     map[string]*formProp
}

type formProp struct {
	types   []string            // the property schema's types
	items   []string            // array item types
	object  bool                // type object (JSON or deepObject encoded)
	fields  map[string][]string // an object's property types (deepObject, form explode false)
	array   bool
	binary  bool     // format: binary (3.0) or contentMediaType/contentEncoding (3.1): a file, not text
	style   string   // form (default), spaceDelimited, pipeDelimited, deepObject
	explode bool     // default true for style form
	cts     []string // encoding.contentType, lower case, no parameters (multipart)
}

// compileForm collects the top-level properties of sch (and its allOf
// members) with their encoding.
func compileForm(mt string, sch *base.Schema, enc map[string]*v3.Encoding) *formMedia {
	fm := &formMedia{multipart: mt == mediaMultipart, props: map[string]*formProp{}}
	var collect func(s *base.Schema, depth int)
	collect = func(s *base.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		if s.Properties != nil {
			for name, p := range s.Properties.FromOldest() {
				if _, ok := fm.props[name]; ok || p == nil {
					continue
				}
				fm.props[name] = newFormProp(p.Schema(), enc[name])
			}
		}
		for _, a := range s.AllOf {
			if a != nil {
				collect(a.Schema(), depth+1)
			}
		}
	}
	collect(sch, 0)
	return fm
}

func newFormProp(s *base.Schema, e *v3.Encoding) *formProp {
	fp := &formProp{style: "form", explode: true}
	if s != nil {
		fp.types = s.Type
		fp.binary = isBinary(s)
		for _, t := range s.Type {
			switch t {
			case "array":
				fp.array = true
			case "object":
				fp.object = true
			}
		}
		if fp.object && s.Properties != nil {
			fp.fields = map[string][]string{}
			for k, p := range s.Properties.FromOldest() {
				if ps := p.Schema(); ps != nil {
					fp.fields[k] = ps.Type
				}
			}
		}
		if fp.array && s.Items != nil && s.Items.IsA() {
			if is := s.Items.A.Schema(); is != nil {
				fp.items = is.Type
				fp.binary = fp.binary || isBinary(is)
			}
		}
	}
	if e != nil {
		if e.Style != "" {
			fp.style = e.Style
		}
		if e.Explode != nil {
			fp.explode = *e.Explode
		} else if fp.style != "form" {
			fp.explode = false
		}
		for _, ct := range strings.Split(e.ContentType, ",") {
			ct = strings.ToLower(strings.TrimSpace(ct))
			if i := strings.IndexByte(ct, ';'); i >= 0 {
				ct = strings.TrimSpace(ct[:i])
			}
			if ct != "" {
				fp.cts = append(fp.cts, ct)
			}
		}
	}
	return fp
}

func isBinary(s *base.Schema) bool {
	return s.Format == "binary" || s.ContentMediaType != "" || s.ContentEncoding != ""
}

// FormField is one decoded name/value pair of a form body, in body order.
type FormField struct {
	Name, Value string
	// File is set for a multipart part with a filename parameter.
	File bool
	// ContentType is a multipart part's media type (lower case, no parameters).
	ContentType string
}

// FormLimits bound a form or multipart body while it is decoded.
type FormLimits struct {
	MaxFields   int   // fields or parts; default 1000 (jsonx.Limits.MaxKeys)
	MaxValueLen int   // bytes of one name or text value; default 64 KiB
	MaxPartSize int64 // bytes of one multipart part (files included); default 1 MiB
}

func (l FormLimits) defaults() FormLimits {
	if l.MaxFields <= 0 {
		l.MaxFields = 1000
	}
	if l.MaxValueLen <= 0 {
		l.MaxValueLen = 64 << 10
	}
	if l.MaxPartSize <= 0 {
		l.MaxPartSize = 1 << 20
	}
	return l
}

// ParseURLEncoded decodes an application/x-www-form-urlencoded body strictly:
// '&' is the only separator (an unescaped ';' is an error: some servers split
// on it, so the gateway and the upstream would see different fields), every
// escape must be valid, names and values must be valid UTF-8 after decoding,
// and the field count and lengths are bounded. Empty pairs ("a=1&&b=2") are
// skipped, as by net/url.
func ParseURLEncoded(b []byte, lim FormLimits) ([]FormField, error) {
	lim = lim.defaults()
	var out []FormField
	s := string(b)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return nil, fmt.Errorf("%w: unescaped ';' in field %d", ErrFormSyntax, len(out))
		}
		if len(out) >= lim.MaxFields {
			return nil, fmt.Errorf("%w: over %d fields", ErrFormTooMany, lim.MaxFields)
		}
		rawName, rawVal, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, fmt.Errorf("%w: field %d name: %w", ErrFormSyntax, len(out), err)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q value: %w", ErrFormSyntax, name, err)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: field %d has an empty name", ErrFormSyntax, len(out))
		}
		if len(name) > lim.MaxValueLen || len(val) > lim.MaxValueLen {
			return nil, fmt.Errorf("%w: field %d over %d bytes", ErrFormTooMany, len(out), lim.MaxValueLen)
		}
		if !utf8.ValidString(name) || !utf8.ValidString(val) {
			return nil, fmt.Errorf("%w: field %d is not valid utf-8", ErrFormSyntax, len(out))
		}
		out = append(out, FormField{Name: name, Value: val})
	}
	return out, nil
}

// ParseMultipart decodes a multipart/form-data body held in memory (nothing
// is written to disk). Before mime/multipart reads it, the raw structure is
// checked so that a lenient upstream parser cannot find parts the gateway did
// not: the body starts with the first delimiter (no preamble), every
// occurrence of "--boundary" is a real delimiter at a line start followed by
// CRLF or "--", nothing but CRLF follows the close delimiter, part headers
// use CRLF line ends with no folding or bare CR/LF. Each part needs
// Content-Disposition: form-data with a name (no RFC 2231 name*=), a
// Content-Transfer-Encoding other than 7bit/8bit/binary is refused, nested
// multipart parts are refused, and part count and sizes are bounded.
// Text values (parts without a filename) must be valid UTF-8.
func ParseMultipart(b []byte, boundary string, lim FormLimits) ([]FormField, error) {
	lim = lim.defaults()
	if err := checkBoundary(boundary); err != nil {
		return nil, err
	}
	if err := scanMultipart(b, boundary, lim.MaxFields); err != nil {
		return nil, err
	}
	mr := multipart.NewReader(bytes.NewReader(b), boundary)
	var out []FormField
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormSyntax, err)
		}
		if len(out) >= lim.MaxFields {
			return nil, fmt.Errorf("%w: over %d parts", ErrFormTooMany, lim.MaxFields)
		}
		f, err := readPart(p, lim)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no parts", ErrFormSyntax)
	}
	return out, nil
}

func readPart(p *multipart.Part, lim FormLimits) (FormField, error) {
	var f FormField
	h := p.Header
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return f, fmt.Errorf("%w: control character in %s", ErrFormPartHeader, k)
			}
		}
	}
	cds := h.Values("Content-Disposition")
	if len(cds) != 1 {
		return f, fmt.Errorf("%w: %d Content-Disposition headers", ErrFormPartHeader, len(cds))
	}
	if hasExtName(cds[0]) {
		return f, fmt.Errorf("%w: RFC 2231 name*= parameter", ErrFormPartHeader)
	}
	disp, params, err := mime.ParseMediaType(cds[0])
	if err != nil || !strings.EqualFold(disp, "form-data") {
		return f, fmt.Errorf("%w: Content-Disposition is not form-data", ErrFormPartHeader)
	}
	f.Name = params["name"]
	if f.Name == "" || !utf8.ValidString(f.Name) || len(f.Name) > lim.MaxValueLen {
		return f, fmt.Errorf("%w: part without a valid name", ErrFormPartHeader)
	}
	_, f.File = params["filename"]
	if len(h.Values("Content-Type")) > 1 || len(h.Values("Content-Transfer-Encoding")) > 1 {
		return f, fmt.Errorf("%w: repeated header in part %q", ErrFormPartHeader, f.Name)
	}
	if cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte != "" && cte != "7bit" && cte != "8bit" && cte != "binary" {
		return f, fmt.Errorf("%w: Content-Transfer-Encoding %q in part %q", ErrFormPartHeader, cte, f.Name)
	}
	if ct := h.Get("Content-Type"); ct != "" {
		mt, cparams, err := mime.ParseMediaType(ct)
		if err != nil {
			return f, fmt.Errorf("%w: Content-Type of part %q: %w", ErrFormPartHeader, f.Name, err)
		}
		f.ContentType = strings.ToLower(mt)
		if strings.HasPrefix(f.ContentType, "multipart/") {
			return f, &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Field: jsonx.Pointer(f.Name),
				Reason: "nested multipart part " + strconv.Quote(f.Name)}
		}
		if cs, ok := cparams["charset"]; ok && !isUTF8Charset(cs) {
			return f, &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Field: jsonx.Pointer(f.Name),
				Reason: "part charset " + strconv.Quote(cs) + " is not utf-8"}
		}
	}
	data, err := io.ReadAll(io.LimitReader(p, lim.MaxPartSize+1))
	if err != nil {
		return f, fmt.Errorf("%w: part %q: %w", ErrFormSyntax, f.Name, err)
	}
	if int64(len(data)) > lim.MaxPartSize {
		return f, fmt.Errorf("%w: part %q over %d bytes", ErrFormPartSize, f.Name, lim.MaxPartSize)
	}
	f.Value = string(data)
	return f, nil
}

// hasExtName reports an RFC 2231/5987 extended name*= parameter, which
// mime.ParseMediaType decodes but many form parsers ignore.
func hasExtName(cd string) bool {
	l := strings.ToLower(cd)
	for i := 0; ; {
		j := strings.Index(l[i:], "name*")
		if j < 0 {
			return false
		}
		j += i
		if j == 0 || l[j-1] == ';' || l[j-1] == ' ' || l[j-1] == '\t' {
			return true
		}
		i = j + 5
	}
}

func isUTF8Charset(cs string) bool {
	return strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") || strings.EqualFold(cs, "us-ascii")
}

// checkBoundary enforces RFC 2046's boundary grammar: 1-70 characters from
// bchars, not ending in a space.
func checkBoundary(b string) error {
	if b == "" {
		return fmt.Errorf("%w: missing", ErrFormBoundary)
	}
	if len(b) > 70 || b[len(b)-1] == ' ' {
		return fmt.Errorf("%w: over 70 characters or trailing space", ErrFormBoundary)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("'()+_,-./:=? ", c) >= 0 {
			continue
		}
		return fmt.Errorf("%w: character %q", ErrFormBoundary, c)
	}
	return nil
}

// scanMultipart checks the raw structure of a multipart body (see ParseMultipart).
func scanMultipart(b []byte, boundary string, maxParts int) error {
	dash := []byte("--" + boundary)
	if !bytes.HasPrefix(b, dash) {
		return fmt.Errorf("%w: body does not start with the boundary (preamble)", ErrFormSyntax)
	}
	parts := 0
	pos := 0 // at a delimiter
	for {
		after := pos + len(dash)
		switch {
		case bytes.HasPrefix(b[after:], []byte("--")):
			rest := b[after+2:]
			if len(rest) != 0 && !bytes.Equal(rest, []byte("\r\n")) {
				return fmt.Errorf("%w: data after the close delimiter", ErrFormSyntax)
			}
			if parts == 0 {
				return fmt.Errorf("%w: no parts", ErrFormSyntax)
			}
			return nil
		case bytes.HasPrefix(b[after:], []byte("\r\n")):
		default:
			return fmt.Errorf("%w: boundary not followed by CRLF (prefix of another boundary?)", ErrFormBoundary)
		}
		parts++
		if parts > maxParts {
			return fmt.Errorf("%w: over %d parts", ErrFormTooMany, maxParts)
		}
		start := after + 2
		next := bytes.Index(b[start:], dash)
		if next < 0 {
			return fmt.Errorf("%w: missing close delimiter", ErrFormSyntax)
		}
		next += start
		if next < start+2 || b[next-2] != '\r' || b[next-1] != '\n' {
			return fmt.Errorf("%w: boundary inside a part", ErrFormBoundary)
		}
		if err := scanPartHeader(b[start : next-2]); err != nil {
			return err
		}
		pos = next
	}
}

// scanPartHeader checks the header block of one raw part: CRLF line ends,
// no bare CR or LF, no obs-fold continuation, "Name: value" lines.
func scanPartHeader(part []byte) error {
	end := bytes.Index(part, []byte("\r\n\r\n"))
	var hdr []byte
	switch {
	case bytes.HasPrefix(part, []byte("\r\n")):
		hdr = nil // no headers (rejected later: no Content-Disposition)
	case end < 0:
		return fmt.Errorf("%w: header block not terminated", ErrFormPartHeader)
	default:
		hdr = part[:end]
	}
	for _, line := range bytes.Split(hdr, []byte("\r\n")) {
		if len(line) == 0 {
			return fmt.Errorf("%w: empty header line", ErrFormPartHeader)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("%w: folded header line", ErrFormPartHeader)
		}
		if bytes.ContainsAny(line, "\r\n\x00") {
			return fmt.Errorf("%w: bare CR or LF in header", ErrFormPartHeader)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: header line without a name", ErrFormPartHeader)
		}
		for _, c := range line[:colon] {
			if c <= ' ' || c >= 0x7f {
				return fmt.Errorf("%w: invalid header name", ErrFormPartHeader)
			}
		}
	}
	return nil
}

// formDoc turns decoded fields into the JSON document the schema validates,
// converting each value to its property's type (OpenAPI encoding rules:
// urlencoded arrays by style/explode, objects as deepObject or JSON). It
// returns the document and the names of binary (file) fields, which are not
// inspected as text.
func (v *Validator) formDoc(fields []FormField, fm *formMedia) (map[string]any, map[string]bool, *Error) {
	doc := make(map[string]any, len(fields))
	binary := map[string]bool{}
	groups := map[string][]FormField{}
	var order []string
	deep := map[string]map[string]any{}
	for _, f := range fields {
		if v.opts.Injection.NoSQL && inspect.QueryKey(f.Name) {
			return nil, nil, &Error{Kind: KindInjection, Injection: inspect.NoSQL, Status: http.StatusBadRequest,
				Field: jsonx.Pointer(f.Name), Reason: "operator syntax in form field name"}
		}
		if !fm.multipart {
			if base, key, ok := deepKey(f.Name); ok {
				if fp := fm.props[base]; fp != nil && fp.style == "deepObject" {
					obj := deep[base]
					if obj == nil {
						obj = map[string]any{}
						deep[base] = obj
					}
					if _, dup := obj[key]; dup {
						return nil, nil, dupErr(f.Name)
					}
					obj[key] = coerceScalar(f.Value, fp.fields[key], false)
					continue
				}
			}
		}
		if _, ok := groups[f.Name]; !ok {
			order = append(order, f.Name)
		}
		groups[f.Name] = append(groups[f.Name], f)
	}
	for base, obj := range deep {
		if _, ok := groups[base]; ok {
			return nil, nil, dupErr(base)
		}
		doc[base] = obj
	}
	for _, name := range order {
		fs := groups[name]
		fp := fm.props[name]
		if fp == nil {
			if len(fs) > 1 {
				return nil, nil, dupErr(name)
			}
			if fs[0].File {
				binary[name] = true
			} else if err := textValue(name, fs); err != nil {
				return nil, nil, err
			}
			doc[name] = fs[0].Value
			continue
		}
		if !fp.binary {
			if err := textValue(name, fs); err != nil {
				return nil, nil, err
			}
		}
		if err := checkPartTypes(name, fs, fp); err != nil {
			return nil, nil, err
		}
		if fp.binary {
			binary[name] = true
		}
		val, err := v.formValue(name, fs, fp, fm.multipart)
		if err != nil {
			return nil, nil, err
		}
		doc[name] = val
	}
	return doc, binary, nil
}

// textValue requires text fields to be valid UTF-8 (a file part may carry anything).
func textValue(name string, fs []FormField) *Error {
	for _, f := range fs {
		if !utf8.ValidString(f.Value) {
			return &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Field: jsonx.Pointer(name),
				Reason: "form field " + strconv.Quote(name) + " is not valid utf-8", Err: ErrFormSyntax}
		}
	}
	return nil
}

func dupErr(name string) *Error {
	return &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Field: jsonx.Pointer(name),
		Reason: "duplicate form field " + strconv.Quote(name), Err: ErrFormDuplicate}
}

// deepKey splits "base[key]" (deepObject style).
func deepKey(name string) (base, key string, ok bool) {
	i := strings.IndexByte(name, '[')
	if i <= 0 || !strings.HasSuffix(name, "]") {
		return "", "", false
	}
	key = name[i+1 : len(name)-1]
	if strings.ContainsAny(key, "[]") {
		return "", "", false
	}
	return name[:i], key, true
}

// checkPartTypes enforces encoding.<prop>.contentType on multipart parts.
func checkPartTypes(name string, fs []FormField, fp *formProp) *Error {
	if len(fp.cts) == 0 {
		return nil
	}
	for _, f := range fs {
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain" // RFC 7578 default
		}
		if !mediaMatches(fp.cts, ct) {
			return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Field: jsonx.Pointer(name),
				Reason: "part content type " + strconv.Quote(ct) + " not allowed by encoding.contentType"}
		}
	}
	return nil
}

func mediaMatches(allowed []string, mt string) bool {
	for _, a := range allowed {
		if a == mt || a == "*/*" || (strings.HasSuffix(a, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

func (v *Validator) formValue(name string, fs []FormField, fp *formProp, multipart bool) (any, *Error) {
	if fp.array {
		var raw []string
		switch {
		case multipart || fp.explode:
			for _, f := range fs {
				raw = append(raw, f.Value)
			}
		case len(fs) > 1:
			return nil, dupErr(name)
		default:
			sep := ","
			switch fp.style {
			case "spaceDelimited":
				sep = " "
			case "pipeDelimited":
				sep = "|"
			}
			if fs[0].Value != "" {
				raw = strings.Split(fs[0].Value, sep)
			}
		}
		out := make([]any, len(raw))
		for i, s := range raw {
			out[i] = coerceScalar(s, fp.items, fp.binary)
		}
		return out, nil
	}
	if len(fs) > 1 {
		return nil, dupErr(name)
	}
	s := fs[0].Value
	if fp.object && !hasType(fp.types, "string") {
		if !multipart && fp.style == "form" && !fp.explode {
			// style form, explode false: k1,v1,k2,v2
			parts := strings.Split(s, ",")
			if len(parts)%2 != 0 {
				return nil, &Error{Kind: KindSchema, Status: http.StatusBadRequest, Field: jsonx.Pointer(name),
					Reason: "form object field has an odd number of items"}
			}
			obj := map[string]any{}
			for i := 0; i < len(parts); i += 2 {
				if _, dup := obj[parts[i]]; dup {
					return nil, dupErr(name + "[" + parts[i] + "]")
				}
				obj[parts[i]] = coerceScalar(parts[i+1], fp.fields[parts[i]], false)
			}
			return obj, nil
		}
		// Objects default to application/json (OpenAPI encoding defaults).
		val, err := jsonx.Parse([]byte(s), v.opts.Limits)
		if err != nil {
			return nil, &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Field: jsonx.Pointer(name),
				Reason: "form field is not strict JSON: " + err.Error(), Err: err}
		}
		return val, nil
	}
	return coerceScalar(s, fp.types, fp.binary), nil
}

func hasType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// coerceScalar converts one form value to the type its schema expects; a
// value that does not convert stays a string and fails the type check.
func coerceScalar(s string, types []string, binary bool) any {
	if binary {
		return s
	}
	for _, t := range types {
		if t == "null" && s == "" && len(types) > 1 {
			return nil
		}
	}
	return coerce(s, types, nil)
}

// checkForm validates a form or multipart body (see docs/contract.md).
func (v *Validator) checkForm(r *http.Request, b []byte, params map[string]string, m *compiledMedia, c *compiledOp) error {
	lim := FormLimits{MaxFields: v.opts.Limits.MaxKeys, MaxValueLen: v.opts.Limits.MaxStringLen, MaxPartSize: v.opts.MaxPartSize}
	var fields []FormField
	var err error
	if m.form.multipart {
		if v.opts.MaxParts > 0 {
			lim.MaxFields = v.opts.MaxParts
		}
		fields, err = ParseMultipart(b, params["boundary"], lim)
	} else {
		if cs, ok := params["charset"]; ok && !isUTF8Charset(cs) {
			return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Reason: "charset " + strconv.Quote(cs) + " is not utf-8"}
		}
		fields, err = ParseURLEncoded(b, lim)
	}
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			return ve
		}
		if errors.Is(err, ErrFormPartSize) {
			return &Error{Kind: KindBodySize, Status: http.StatusRequestEntityTooLarge, Reason: err.Error(), Err: err}
		}
		return &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Reason: err.Error(), Err: err}
	}
	doc, binary, ferr := v.formDoc(fields, m.form)
	if ferr != nil {
		return ferr
	}
	if err := v.checkSmuggling(r, doc, m.form, c); err != nil {
		return err
	}
	if m.schema != nil {
		if err := m.schema.Validate(doc); err != nil {
			return schemaError(err)
		}
	}
	// Binary parts (declared binary, or undeclared files) are not text: the
	// walk still sees their names (undeclared-property check) but not their
	// content (no injection check).
	if len(binary) > 0 {
		text := make(map[string]any, len(doc))
		for k, val := range doc {
			if binary[k] {
				val = nil
			}
			text[k] = val
		}
		doc = text
	}
	w := walker{v: v, c: c}
	var ss []*Shape
	if m.shape != nil {
		ss = []*Shape{m.shape}
	}
	w.walk(doc, ss)
	if w.err != nil {
		return w.err
	}
	return nil
}

// checkSmuggling refuses a query parameter that names a body field (declared
// or sent) without being a declared query parameter: frameworks that merge
// query and body (PHP $_REQUEST, Flask request.values, Rails params) would
// let it override or add a field the gateway validated elsewhere.
func (v *Validator) checkSmuggling(r *http.Request, doc map[string]any, fm *formMedia, c *compiledOp) *Error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Reason: "malformed query string", Err: err}
	}
	for name := range q {
		if c.byQuery[name] != nil {
			continue
		}
		base := name
		if b, _, ok := deepKey(name); ok {
			base = b
		}
		_, sent := doc[base]
		if fm.props[base] != nil || sent {
			return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: name,
				Reason: "form field " + strconv.Quote(base) + " also sent in the query string"}
		}
	}
	return nil
}
