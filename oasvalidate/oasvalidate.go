// Package oasvalidate validates requests against the OpenAPI 3.0/3.1
// operation the gateway's router matched: parameters, content type, body
// schema, undeclared properties (mass assignment), size/depth limits and
// injection payloads in free-form strings.
//
// Schemas are compiled once per operation by New with libopenapi-validator's
// compiler (JSON Schema 2020-12 for 3.1, 3.0 keywords translated), and the
// body is read with jsonx, which enforces limits while reading and
// rejects duplicate keys, so the gateway and the upstream cannot see two
// different documents. The library never routes: the operation comes from
// gatehouse.RouteFrom(ctx), set by the gateway's own router.
//
// Form bodies (application/x-www-form-urlencoded, multipart/form-data) are
// decoded by this package's strict decoders, converted to the schema's types
// by the OpenAPI encoding rules and then validated and walked exactly like
// JSON. They are held in memory, bounded by MaxBody: mime/multipart's
// ReadForm is not used because it spools large parts to temporary files.
//
// `pattern` and `patternProperties` are evaluated with ECMA-262 semantics,
// the dialect JSON Schema specifies: RE2 (linear time) when the pattern
// means the same there, else regexp2's ECMAScript mode with a per-match
// timeout (PatternTimeout) that fails the validation when it runs out, so a
// hostile pattern cannot become ReDoS inside the gateway; a pattern neither
// compiles skips that one constraint with a located warning. The reasons
// and the exact subset are at CompilePattern (regexp.go).
//
// Chosen over kin-openapi's openapi3filter because that supports OpenAPI 3.0
// only; see docs/contract.md for the measured comparison.
package oasvalidate

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/jsonschema/v6/kind"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/parameters"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/problem"
)

// Stage is the name this stage records in the audit record.
const Stage = "request_validation"

// Kind classifies a validation failure (the "kind" metric label).
type Kind string

// Failure kinds.
const (
	KindRoute          Kind = "route"            // no compiled operation for the request
	KindParameter      Kind = "parameter"        // path/query/header/cookie parameter
	KindContentType    Kind = "content_type"     // missing, undeclared or wrong-charset content type
	KindBodySize       Kind = "body_size"        // body over the byte limit
	KindBodyMissing    Kind = "body_missing"     // required body absent
	KindBodyUnexpected Kind = "body_unexpected"  // body sent to an operation that declares none
	KindSyntax         Kind = "body_syntax"      // malformed JSON, duplicate key, BOM, bad UTF-8, limits
	KindSchema         Kind = "schema"           // body fails its schema
	KindUnknown        Kind = "unknown_property" // property the schema does not declare
	KindInjection      Kind = "injection"        // injection payload (see Error.Injection)
	KindReadOnly       Kind = "read_only"        // a readOnly property set in a request
)

// Error is a request validation failure. Field names the failing parameter
// or the JSON pointer into the body; Reason is for the log only.
type Error struct {
	Kind      Kind
	Status    int
	Field     string
	Injection inspect.Kind // set when Kind is KindInjection
	Reason    string
	Err       error
}

func (e *Error) Error() string {
	s := "request validation: " + string(e.Kind)
	if e.Injection != "" {
		s += " (" + string(e.Injection) + ")"
	}
	if e.Field != "" {
		s += " at " + e.Field
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Label is the metric label for e: its kind, with the injection family.
func (e *Error) Label() string {
	if e.Kind == KindInjection {
		return string(KindInjection) + "_" + string(e.Injection)
	}
	return string(e.Kind)
}

// Operation is one operation to compile (the gateway passes its spec index;
// Operations derives the same list from a document).
type Operation struct {
	ID       string
	Method   string
	Template string
	PathItem *v3.PathItem
	Op       *v3.Operation
	// Params is the effective parameter list (path-item parameters overridden
	// by operation parameters).
	Params []*v3.Parameter
}

// Options configure a Validator. The zero value validates with default limits,
// leaves undeclared properties to the spec and detects no injection.
type Options struct {
	// MaxBody bounds the request body in bytes (default 1 MiB).
	MaxBody int64
	// Limits bound the JSON document while it is read.
	Limits jsonx.Limits
	// RejectUnknown treats properties the schema does not declare as errors
	// even where the spec leaves objects open (additionalProperties absent).
	RejectUnknown bool
	// RejectUnknownQuery refuses query parameters the operation does not
	// declare (400), on every operation.
	RejectUnknownQuery bool
	// RejectUnknownOps overrides RejectUnknown per operation ID (false: this
	// operation accepts undeclared properties; true: it rejects them).
	RejectUnknownOps map[string]bool
	// Injection selects the checks run on free-form strings (query values and
	// JSON strings whose schema has no pattern, enum, format or const).
	Injection inspect.Checks
	// ShellFields and PathFields mark, per operation ID, body JSON pointers or
	// query parameter names ("query:name") that also get the shell
	// metacharacter or path traversal check, like x-gatehouse-shell: true /
	// x-gatehouse-path: true in the spec.
	ShellFields, PathFields map[string][]string
	// ExposeField lets the problem body name the failing parameter or JSON
	// pointer (errors.validation_detail: field). Values are never included.
	ExposeField bool
	// MaxParts bounds the parts of a multipart/form-data body (default:
	// Limits.MaxKeys); the fields of a urlencoded body are bounded by
	// Limits.MaxKeys and their lengths by Limits.MaxStringLen.
	MaxParts int
	// MaxPartSize bounds one multipart part, files included (default: MaxBody).
	// Bodies are held in memory (bounded by MaxBody), never spooled to disk.
	MaxPartSize int64
	// Mode, when set, overrides the route's enforce/monitor mode.
	Mode *gatehouse.Mode
	// Logger receives one Info line per failure (nil: discard).
	Logger *slog.Logger
	// Observe, when set, is called for every failure (enforced or monitored)
	// with the operation ID and Error.Label; the gateway counts it.
	Observe func(operation, kind string)
}

// Validator validates requests against compiled operations. It is immutable
// after New and safe for concurrent use.
type Validator struct {
	opts    Options
	log     *slog.Logger
	ops     map[string]*compiledOp
	params  parameters.ParameterValidator
	version float32
	schemas *SchemaSet  // each distinct schema compiled once per document
	shapes  *ShapeCache // likewise for shapes
}

type compiledOp struct {
	Operation
	bodyDeclared  bool
	bodyRequired  bool
	media         []*compiledMedia
	pathParams    []*compiledParam
	byQuery       map[string]*compiledParam
	hasOther      bool // query, header or cookie parameters to validate
	rejectUnknown bool
	shell, path   map[string]bool
	query         *formMedia // form view of the query parameters (query.go)
	queryRequired []string
}

type compiledMedia struct {
	typ    string // lower case, no parameters; may be "type/*" or "*/*"
	json   bool
	schema *jsonschema.Schema
	shape  *Shape
	form   *formMedia // urlencoded or multipart: decoded field by field
}

type compiledParam struct {
	p      *v3.Parameter
	schema *jsonschema.Schema
	shape  *Shape
	types  []string
	items  []string
}

// Operations lists doc's operations with gatehouse's ID rule: the
// operationId, or "METHOD /template" when it has none.
func Operations(doc *v3.Document) []Operation {
	var out []Operation
	if doc == nil || doc.Paths == nil || doc.Paths.PathItems == nil {
		return nil
	}
	for tmpl, pi := range doc.Paths.PathItems.FromOldest() {
		for m, op := range pi.GetOperations().FromOldest() {
			method := strings.ToUpper(m)
			id := op.OperationId
			if id == "" {
				id = method + " " + tmpl
			}
			out = append(out, Operation{ID: id, Method: method, Template: tmpl, PathItem: pi, Op: op,
				Params: mergeParams(pi.Parameters, op.Parameters)})
		}
	}
	return out
}

func mergeParams(pathLevel, opLevel []*v3.Parameter) []*v3.Parameter {
	out := append([]*v3.Parameter(nil), opLevel...)
	for _, p := range pathLevel {
		dup := false
		for _, o := range opLevel {
			if o.Name == p.Name && o.In == p.In {
				dup = true
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// New compiles every operation's parameter and body schemas. It fails if a
// schema cannot be compiled, so a broken spec is caught at load, not per request.
func New(doc *v3.Document, ops []Operation, opts Options) (*Validator, error) {
	if doc == nil {
		return nil, errors.New("oasvalidate: nil document")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxPartSize <= 0 {
		opts.MaxPartSize = opts.MaxBody
	}
	opts.Limits = opts.Limits.Defaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Validator{
		opts:    opts,
		log:     log,
		ops:     make(map[string]*compiledOp, len(ops)),
		version: helpers.VersionToFloat(doc.Version),
	}
	vopts := []config.Option{config.WithFormatAssertions()}
	v.params = parameters.NewParameterValidator(doc, vopts...)
	copts := config.NewValidationOptions(vopts...)
	v.schemas = SchemasFor(doc)
	v.shapes = ShapesFor(doc, "request", func() ShapeOptions { return ShapeOptions{} })
	for _, op := range ops {
		c, err := v.compile(op, copts)
		if err != nil {
			return nil, fmt.Errorf("oasvalidate: operation %q: %w", op.ID, err)
		}
		v.ops[op.ID] = c
	}
	return v, nil
}

func (v *Validator) compile(op Operation, copts *config.ValidationOptions) (*compiledOp, error) {
	c := &compiledOp{Operation: op, byQuery: map[string]*compiledParam{}, rejectUnknown: v.opts.RejectUnknown}
	if o, ok := v.opts.RejectUnknownOps[op.ID]; ok {
		c.rejectUnknown = o
	}
	c.shell = toSet(v.opts.ShellFields[op.ID])
	c.path = toSet(v.opts.PathFields[op.ID])
	for _, p := range op.Params {
		if p == nil {
			continue
		}
		cp := &compiledParam{p: p}
		if p.Schema != nil {
			sch := p.Schema.Schema()
			if sch != nil {
				cp.types = sch.Type
				if sch.Items != nil && sch.Items.IsA() && sch.Items.A.Schema() != nil {
					cp.items = sch.Items.A.Schema().Type
				}
				// PurposeRequest, not Generic: a parameter is request input too
				// (readOnly properties are not required in it), and one compiler
				// fewer keeps a third less of the converted document in memory.
				compiled, err := v.schemas.Compile(p.Schema, PurposeRequest)
				if err != nil {
					return nil, fmt.Errorf("parameter %q: %w", p.Name, err)
				}
				cp.schema = compiled
			}
			sh, err := v.shapes.Compile(p.Schema)
			if err != nil {
				return nil, fmt.Errorf("parameter %q: %w", p.Name, err)
			}
			cp.shape = sh
		}
		switch p.In {
		case "path":
			c.pathParams = append(c.pathParams, cp)
		case "query":
			c.byQuery[p.Name] = cp
			c.hasOther = true
		case "header", "cookie":
			c.hasOther = true
		}
	}
	compileQuery(c)
	if rb := op.Op.RequestBody; rb != nil {
		c.bodyDeclared = true
		c.bodyRequired = rb.Required != nil && *rb.Required
		if rb.Content != nil {
			for mt, m := range rb.Content.FromOldest() {
				cm := &compiledMedia{typ: strings.ToLower(strings.TrimSpace(mt))}
				if i := strings.IndexByte(cm.typ, ';'); i >= 0 {
					cm.typ = strings.TrimSpace(cm.typ[:i])
				}
				cm.json = isJSON(cm.typ)
				isForm := cm.typ == mediaForm || cm.typ == mediaMultipart
				if isForm {
					var sch *base.Schema
					if m != nil && m.Schema != nil {
						sch = m.Schema.Schema()
					}
					enc := map[string]*v3.Encoding{}
					if m != nil && m.Encoding != nil {
						for k, e := range m.Encoding.FromOldest() {
							enc[k] = e
						}
					}
					cm.form = compileForm(cm.typ, sch, enc)
				}
				if m != nil && m.Schema != nil && (cm.json || isForm) {
					sch := m.Schema.Schema()
					if sch != nil {
						compiled, err := v.schemas.Compile(m.Schema, PurposeRequest)
						if err != nil {
							return nil, fmt.Errorf("request body %q: %w", mt, err)
						}
						cm.schema = compiled
					}
					sh, err := v.shapes.Compile(m.Schema)
					if err != nil {
						return nil, fmt.Errorf("request body %q: %w", mt, err)
					}
					cm.shape = sh
				}
				c.media = append(c.media, cm)
			}
		}
	}
	return c, nil
}

func toSet(l []string) map[string]bool {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// Check validates r against the operation in its context (gatehouse.Route).
// It returns nil or an *Error. The body is read once through httpx.Body and
// r.Body is restored for the proxy.
//
// A `pattern` that the backtracking ECMAScript engine cannot decide within
// PatternTimeout fails the request with a 400 (KindSchema), never passes it.
func (v *Validator) Check(r *http.Request) (err error) {
	defer func() {
		if x := recover(); x != nil {
			if !IsPatternTimeout(x) {
				panic(x)
			}
			err = &Error{Kind: KindSchema, Status: http.StatusBadRequest, Reason: "a pattern took too long to match", Err: x.(error)}
		}
	}()
	rt := gatehouse.RouteFrom(r.Context())
	if rt == nil {
		return &Error{Kind: KindRoute, Status: http.StatusNotFound, Reason: "request was not routed"}
	}
	c := v.ops[rt.OperationID]
	if c == nil {
		return &Error{Kind: KindRoute, Status: http.StatusNotFound, Reason: "no compiled operation " + strconv.Quote(rt.OperationID)}
	}
	if err := v.checkParams(r, rt, c); err != nil {
		return err
	}
	return v.checkBody(r, c)
}

func (v *Validator) checkParams(r *http.Request, rt *gatehouse.Route, c *compiledOp) error {
	for _, cp := range c.pathParams {
		raw, ok := rt.Params[cp.p.Name]
		if !ok || raw == "" {
			return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: cp.p.Name, Reason: "path parameter missing"}
		}
		if cp.schema != nil {
			if err := cp.schema.Validate(coerce(raw, cp.types, cp.items)); err != nil {
				return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: cp.p.Name,
					Reason: "path parameter: " + err.Error()}
			}
		}
		if err := v.inspectString(c, raw, []*Shape{cp.shape}, "path:"+cp.p.Name, cp.p.Name, inPath); err != nil {
			return err
		}
	}
	// The query is decoded once, strictly; a ';', a bad escape or a flood is
	// refused here whatever else is configured.
	var query []FormField
	if r.URL.RawQuery != "" {
		var err error
		query, err = ParseQuery(r.URL.RawQuery, FormLimits{MaxFields: v.opts.Limits.MaxKeys, MaxValueLen: v.opts.Limits.MaxStringLen})
		if err != nil {
			return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Reason: err.Error(), Err: err}
		}
	}
	if err := v.checkQuery(query, c); err != nil {
		return err
	}
	if c.hasOther {
		for _, f := range []func(*http.Request, *v3.PathItem, string) (bool, []*liberrors.ValidationError){
			v.params.ValidateQueryParamsWithPathItem,
			v.params.ValidateHeaderParamsWithPathItem,
			v.params.ValidateCookieParamsWithPathItem,
		} {
			if ok, errs := f(r, c.PathItem, c.Template); !ok && len(errs) > 0 {
				e := errs[0]
				reason := e.Message + ": " + e.Reason
				for _, se := range e.SchemaValidationErrors {
					reason += "; " + se.Reason
				}
				return &Error{Kind: KindParameter, Status: http.StatusBadRequest, Field: e.ParameterName, Reason: reason}
			}
		}
	}
	if v.opts.Injection == (inspect.Checks{}) && len(c.shell) == 0 && len(c.path) == 0 {
		return nil
	}
	for _, f := range query {
		name := f.Name
		if v.opts.Injection.NoSQL && inspect.QueryKey(name) {
			return &Error{Kind: KindInjection, Injection: inspect.NoSQL, Status: http.StatusBadRequest, Field: name,
				Reason: "operator syntax in query parameter name"}
		}
		var ss []*Shape
		if cp := c.byQuery[name]; cp != nil {
			ss = []*Shape{cp.shape}
		}
		if err := v.inspectString(c, f.Value, ss, "query:"+name, name, inQuery); err != nil {
			return err
		}
	}
	return nil
}

// coerce turns a path parameter into the JSON value its schema expects
// (simple style); a value that does not parse stays a string and fails the
// schema's type check.
func coerce(raw string, types, items []string) any {
	for _, t := range types {
		switch t {
		case "integer":
			// "-0" is refused as an integer spelling: upstream lookups
			// that compare text ("-0" != "0") would disagree with the check.
			if n, isInt, err := jsonx.ParseNumber(raw); err == nil && isInt && raw != "-0" {
				return n
			}
		case "number":
			if n, _, err := jsonx.ParseNumber(raw); err == nil {
				return n
			}
		case "boolean":
			if raw == "true" {
				return true
			}
			if raw == "false" {
				return false
			}
		case "array":
			parts := strings.Split(raw, ",")
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = coerce(p, items, nil)
			}
			return out
		}
	}
	return raw
}

func (v *Validator) checkBody(r *http.Request, c *compiledOp) error {
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if !hasBody && !c.bodyDeclared {
		return nil
	}
	b, err := httpx.Body(r, v.opts.MaxBody)
	if errors.Is(err, httpx.ErrBodyTooLarge) || int64(len(b)) > v.opts.MaxBody {
		return &Error{Kind: KindBodySize, Status: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf("body over %d bytes", v.opts.MaxBody), Err: err}
	}
	if err != nil {
		return &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Reason: "read body", Err: err}
	}
	if len(b) == 0 {
		if c.bodyRequired {
			return &Error{Kind: KindBodyMissing, Status: http.StatusBadRequest, Reason: "required request body is empty"}
		}
		// A form field smuggled through the query string of a bodiless
		// request would still reach a framework that merges the two.
		for _, m := range c.media {
			if m.form != nil {
				if err := v.checkSmuggling(r, nil, m.form, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if !c.bodyDeclared {
		return &Error{Kind: KindBodyUnexpected, Status: http.StatusBadRequest, Reason: "operation declares no request body"}
	}
	ct := r.Header.Get("Content-Type")
	if len(r.Header.Values("Content-Type")) > 1 {
		return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Reason: "multiple Content-Type headers"}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Reason: "missing or malformed Content-Type", Err: err}
	}
	m := matchMedia(c.media, mt)
	if m == nil {
		return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Reason: "content type " + strconv.Quote(mt) + " not declared"}
	}
	if !m.json && isJSON(mt) {
		// Declared as a wildcard (*/*, application/*): JSON still gets the
		// strict reader but no schema.
		m = &compiledMedia{typ: mt, json: true}
	}
	if m.form != nil {
		return v.checkForm(r, b, params, m, c)
	}
	if !m.json {
		return nil
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return &Error{Kind: KindContentType, Status: http.StatusUnsupportedMediaType, Reason: "charset " + strconv.Quote(cs) + " is not utf-8"}
	}
	val, err := httpx.JSON(r, b, v.opts.Limits) // parsed once per request, shared
	if err != nil {
		e := &Error{Kind: KindSyntax, Status: http.StatusBadRequest, Reason: err.Error(), Err: err}
		var je *jsonx.Error
		if errors.As(err, &je) {
			e.Field = je.Pointer
		}
		return e
	}
	if m.schema != nil {
		if err := m.schema.Validate(val); err != nil {
			return schemaError(err)
		}
	}
	w := walker{v: v, c: c}
	var ss []*Shape
	if m.shape != nil {
		ss = []*Shape{m.shape}
	}
	w.walk(val, ss)
	if w.err != nil {
		return w.err
	}
	return nil
}

func matchMedia(media []*compiledMedia, mt string) *compiledMedia {
	mt = strings.ToLower(mt)
	for _, m := range media {
		if m.typ == mt {
			return m
		}
	}
	if i := strings.IndexByte(mt, '/'); i > 0 {
		for _, m := range media {
			if m.typ == mt[:i]+"/*" {
				return m
			}
		}
	}
	for _, m := range media {
		if m.typ == "*/*" {
			return m
		}
	}
	return nil
}

// schemaError turns a JSON Schema failure into an Error pointing at the
// deepest failing instance location.
func schemaError(err error) *Error {
	e := &Error{Kind: KindSchema, Status: http.StatusBadRequest, Reason: err.Error(), Err: err}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return e
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	loc := append([]string(nil), leaf.InstanceLocation...)
	switch k := leaf.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		e.Kind = KindUnknown
		if len(k.Properties) > 0 {
			loc = append(loc, k.Properties[0])
		}
	case *kind.Required:
		if len(k.Missing) > 0 {
			loc = append(loc, k.Missing[0])
		}
	}
	if kp := leaf.ErrorKind.KeywordPath(); len(kp) > 0 && kp[len(kp)-1] == "unevaluatedProperties" {
		e.Kind = KindUnknown
	}
	if _, ok := leaf.ErrorKind.(*kind.FalseSchema); ok && len(leaf.InstanceLocation) > 0 &&
		(strings.HasSuffix(leaf.SchemaURL, "/unevaluatedProperties") || strings.HasSuffix(leaf.SchemaURL, "/additionalProperties")) {
		e.Kind = KindUnknown
	}
	e.Field = jsonx.Pointer(loc...)
	if e.Field == "" {
		e.Field = "/"
	}
	return e
}

type walker struct {
	v    *Validator
	c    *compiledOp
	path []string
	err  *Error
}

func (w *walker) walk(val any, ss []*Shape) {
	if w.err != nil {
		return
	}
	switch x := val.(type) {
	case map[string]any:
		for k, child := range x {
			children, allowed := lookup(ss, k)
			if w.v.opts.Injection.NoSQL && len(children) == 0 && inspect.IsOperatorKey(k) {
				w.fail(&Error{Kind: KindInjection, Injection: inspect.NoSQL, Status: http.StatusBadRequest,
					Reason: "operator key " + strconv.Quote(k)}, k)
				return
			}
			if !allowed && w.c.rejectUnknown {
				w.fail(&Error{Kind: KindUnknown, Status: http.StatusBadRequest,
					Reason: "undeclared property " + strconv.Quote(k)}, k)
				return
			}
			if allowed && ReadOnly(children) {
				w.fail(&Error{Kind: KindReadOnly, Status: http.StatusBadRequest,
					Reason: "readOnly property " + strconv.Quote(k) + " set in a request"}, k)
				return
			}
			w.path = append(w.path, k)
			w.walk(child, children)
			w.path = w.path[:len(w.path)-1]
			if w.err != nil {
				return
			}
		}
	case []any:
		for i, e := range x {
			w.path = append(w.path, strconv.Itoa(i))
			w.walk(e, elems(ss, i))
			w.path = w.path[:len(w.path)-1]
			if w.err != nil {
				return
			}
		}
	case string:
		var ptr string
		if w.c.shell != nil || w.c.path != nil {
			ptr = jsonx.Pointer(w.path...)
		}
		if err := w.v.inspectString(w.c, x, ss, ptr, "", inBody); err != nil {
			w.err = err
			w.err.Field = jsonx.Pointer(w.path...)
		}
	}
}

func (w *walker) fail(e *Error, key string) {
	e.Field = jsonx.Pointer(append(w.path, key)...)
	w.err = e
}

// inspectString runs the configured injection checks on a free-form string.
// mark is the key looked up in the operation's shell/path field lists;
// where (inPath, inQuery, inBody) decides with the schema whether the
// value is an identifier, which adds the SQL-grammar check to SQLi.
func (v *Validator) inspectString(c *compiledOp, s string, ss []*Shape, mark, field string, where int) *Error {
	checks := v.opts.Injection
	if anyConstrained(ss) {
		checks = inspect.Checks{}
	}
	if checks.SQLi && identifier(ss, where) {
		checks.SQLGrammar = true
	}
	if anyShell(ss) || (mark != "" && c.shell[mark]) {
		checks.Shell = true
	}
	if anyPath(ss) || (mark != "" && c.path[mark]) {
		checks.Traversal = true
	}
	if checks == (inspect.Checks{}) {
		return nil
	}
	f, ok := checks.String(s)
	if !ok {
		return nil
	}
	reason := "free-form string matches " + string(f.Kind)
	if f.Fingerprint != "" {
		reason += " (fingerprint " + f.Fingerprint + ")"
	}
	if f.Rule != "" {
		reason += " (identifier holds SQL: " + f.Rule + ")"
	}
	if f.Decoded {
		reason += " after a further decoding"
	}
	return &Error{Kind: KindInjection, Injection: f.Kind, Status: http.StatusBadRequest, Field: field, Reason: reason}
}

// Middleware rejects requests that fail Check with a generic problem body, or,
// when the route's mode is Monitor, records the violation and lets them pass.
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := v.Check(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		var ve *Error
		if !errors.As(err, &ve) {
			ve = &Error{Kind: KindSchema, Status: http.StatusBadRequest, Reason: err.Error(), Err: err}
		}
		ctx := r.Context()
		op, mode := "", gatehouse.Enforce
		if rt := gatehouse.RouteFrom(ctx); rt != nil {
			op, mode = rt.OperationID, rt.Mode
		}
		if v.opts.Mode != nil {
			mode = *v.opts.Mode
		}
		if v.opts.Observe != nil {
			v.opts.Observe(op, ve.Label())
		}
		rec := gatehouse.RecordFrom(ctx)
		v.log.LogAttrs(ctx, slog.LevelInfo, "request validation failed",
			slog.String("request_id", rec.Snapshot().RequestID),
			slog.String("operation", op), slog.String("kind", ve.Label()), slog.String("field", ve.Field),
			slog.String("mode", mode.String()), slog.String("reason", ve.Reason))
		// The record's reason is the bounded kind (the gateway uses it as a
		// metric label); field and full reason go to the access log as attrs.
		rec.Set("validation_field", ve.Field)
		rec.Set("validation_reason", ve.Error())
		if !gatehouse.Decide(ctx, mode, Stage, ve.Label()) {
			next.ServeHTTP(w, r)
			return
		}
		pe := &problem.Error{Status: ve.Status, Err: ve}
		if v.opts.ExposeField {
			pe.Field = ve.Field
		}
		problem.WriteError(w, r, pe)
	})
}
