// Package respfilter enforces the response half of the contract: JSON
// response bodies are filtered to the properties their schema declares,
// validated against it, or passed untouched, per operation and status code;
// sensitive fields (password_hash, token, ssn, card numbers...) are removed
// wherever they appear, even when the schema declares them.
//
// Filtering rather than only blocking keeps an API working while it stops
// leaking (OWASP API3:2023, excessive data exposure). Bodies are buffered only
// up to a limit; larger or streaming responses are passed through or blocked
// by configuration, never buffered without bound (httpx.BufferWriter, shared
// with the response-side ownership rule). Shapes come from oasvalidate, so
// request and response agree on what "declared" means. Under anyOf/oneOf a
// value keeps only the properties of the branch it belongs to (discriminator,
// else the branches it validates against), not the union of all branches.
package respfilter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pb33f/jsonschema/v6"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/problem"
)

// Stage is the name this stage records in the audit record.
const Stage = "response_filter"

// Mode is what happens to a JSON response.
type Mode int

const (
	// ModeFilter removes undeclared and masked properties (the default).
	ModeFilter Mode = iota
	// ModeValidate blocks a response that does not conform with a generic
	// 502, then removes masked properties.
	ModeValidate
	// ModeOff passes the response untouched.
	ModeOff
)

func (m Mode) String() string {
	switch m {
	case ModeValidate:
		return "validate"
	case ModeOff:
		return "off"
	}
	return "filter"
}

// ParseMode parses "filter", "validate" or "off".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "filter", "":
		return ModeFilter, nil
	case "validate":
		return ModeValidate, nil
	case "off":
		return ModeOff, nil
	}
	return ModeFilter, fmt.Errorf("respfilter: unknown mode %q", s)
}

// Oversize says what happens to a JSON response larger than MaxBody.
type Oversize int

const (
	// OversizeBlock replaces it with a generic 502 (fail closed; the default).
	OversizeBlock Oversize = iota
	// OversizePass streams it through unfiltered, with a log line.
	OversizePass
)

// Mismatch says what happens, in filter and validate modes, to a response
// the operation does not declare: an undeclared status code, an undeclared
// content type (or a JSON body sent without one, or with a charset other
// than UTF-8), or a JSON body whose top-level type differs from the declared
// schema's.
type Mismatch int

const (
	// MismatchBlock replaces it with a generic 502 (fail closed; the default).
	MismatchBlock Mismatch = iota
	// MismatchPass sends it reduced: a JSON body (labelled or sniffed) is
	// filtered against what is declared (sensitive fields masked, properties
	// of a mismatched shape stripped); a non-JSON body passes. Logged.
	MismatchPass
)

// DefaultMask lists the property names removed from every response by
// default. Names match case-insensitively with '_' and '-' ignored, so
// "passwordHash" matches "password_hash".
var DefaultMask = []string{
	"password", "password_hash", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
	"refresh_token", "id_token", "api_key", "apikey", "private_key", "ssn", "social_security_number",
	"credit_card", "card_number", "cvv", "cvc", "pin", "otp_secret", "mfa_secret", "session_token",
}

// OperationOptions override the defaults for one operation.
type OperationOptions struct {
	// Mode overrides Options.Mode for this operation.
	Mode *Mode
	// Status overrides the mode per status code ("200", "2XX", "default").
	Status map[string]Mode
	// Unmask lists mask names this operation may return (e.g. "token" for login).
	Unmask []string
	// Mask lists more property names removed from this operation's JSON
	// responses, at any depth, like Options.Mask (Unmask does not apply).
	Mask []string
}

// Options configure a Filter.
type Options struct {
	Mode       Mode
	Operations map[string]OperationOptions
	// Mask lists property names removed wherever they appear (nil: DefaultMask;
	// empty non-nil: none).
	Mask []string
	// MaskCards replaces strings that look like payment card numbers (IIN
	// prefix, 13-19 digits, Luhn-valid) with a mask keeping the last four digits.
	MaskCards bool
	// MaxBody bounds the buffered response in bytes (default 1 MiB).
	MaxBody int64
	// Oversize decides what happens to larger responses.
	Oversize Oversize
	// OnMismatch decides what happens to undeclared statuses, content types
	// and top-level shapes.
	OnMismatch Mismatch
	// Logger gets one line per filtered, blocked or passed-oversize response.
	Logger *slog.Logger
	// Observe, when set, is called with the operation ID and an action:
	// "stripped", "masked", "invalid", "oversize_pass", "oversize_block",
	// "unparseable", "encoded", "branch_fallback", "undeclared_status",
	// "undeclared_content_type", "charset", "shape_mismatch".
	Observe func(operation, action string)
}

// Filter applies the response contract. It is immutable after New and safe
// for concurrent use.
type Filter struct {
	opts Options
	log  *slog.Logger
	mask map[string]bool
	ops  map[string]*compiledOp
}

type compiledOp struct {
	mode   Mode
	status map[string]Mode
	unmask map[string]bool
	mask   map[string]bool          // OperationOptions.Mask, normalized
	resp   map[string]*compiledResp // "200", "2XX", "default"
}

type compiledResp struct {
	json   bool     // declares a JSON body
	types  []string // declared media types, lower case, without parameters
	top    []string // top-level types of the JSON schema ("object", "array"...)
	shape  *oasvalidate.Shape
	schema *jsonschema.Schema
}

// New compiles the response schemas of ops.
func New(doc *v3.Document, ops []oasvalidate.Operation, opts Options) (*Filter, error) {
	if doc == nil {
		return nil, errors.New("respfilter: nil document")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	f := &Filter{opts: opts, log: opts.Logger, ops: map[string]*compiledOp{}}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	mask := opts.Mask
	if mask == nil {
		mask = DefaultMask
	}
	f.mask = map[string]bool{}
	for _, m := range mask {
		f.mask[normName(m)] = true
	}
	// Branch validators let the filter keep only the anyOf/oneOf branch a
	// value belongs to rather than the union of all branches.
	// Each distinct schema is compiled once for the whole document (shared
	// with the request validator), not once per operation and status.
	schemas := oasvalidate.SchemasFor(doc)
	// The shapes too are shared by every Filter built on the same document
	// (a reload on an unchanged spec compiles nothing again).
	shapes := oasvalidate.ShapesFor(doc, "response", func() oasvalidate.ShapeOptions {
		return oasvalidate.ShapeOptions{Branches: schemas, Purpose: oasvalidate.PurposeResponse}
	})
	for _, op := range ops {
		oo := opts.Operations[op.ID]
		c := &compiledOp{mode: opts.Mode, status: oo.Status, resp: map[string]*compiledResp{}}
		if oo.Mode != nil {
			c.mode = *oo.Mode
		}
		if len(oo.Unmask) > 0 {
			c.unmask = map[string]bool{}
			for _, u := range oo.Unmask {
				c.unmask[normName(u)] = true
			}
		}
		if len(oo.Mask) > 0 {
			c.mask = map[string]bool{}
			for _, m := range oo.Mask {
				c.mask[normName(m)] = true
			}
		}
		if op.Op != nil && op.Op.Responses != nil {
			add := func(code string, r *v3.Response) error {
				cr := &compiledResp{}
				c.resp[strings.ToUpper(code)] = cr
				if r == nil || r.Content == nil {
					return nil
				}
				for mt := range r.Content.KeysFromOldest() {
					base, _, _ := strings.Cut(strings.ToLower(mt), ";")
					cr.types = append(cr.types, strings.TrimSpace(base))
				}
				for mt, m := range r.Content.FromOldest() {
					base, _, _ := strings.Cut(strings.ToLower(mt), ";")
					if !isJSON(strings.TrimSpace(base)) || m == nil || m.Schema == nil {
						continue
					}
					cr.json = true
					sh, err := shapes.Compile(m.Schema)
					if err != nil {
						return fmt.Errorf("response %s: %w", code, err)
					}
					cr.shape = sh
					cr.top = sh.Types()
					// The full schema only for validate mode: the filter
					// walks the shape (its anyOf/oneOf branches compiled
					// with it), and compiling every response's schema again
					// costs memory on large specs (issue 18).
					if c.validates() {
						compiled, err := schemas.Compile(m.Schema, oasvalidate.PurposeResponse)
						if err != nil {
							return fmt.Errorf("response %s: %w", code, err)
						}
						cr.schema = compiled
					}
					break
				}
				return nil
			}
			if op.Op.Responses.Codes != nil {
				for code, r := range op.Op.Responses.Codes.FromOldest() {
					if err := add(code, r); err != nil {
						return nil, fmt.Errorf("respfilter: operation %q: %w", op.ID, err)
					}
				}
			}
			if op.Op.Responses.Default != nil {
				if err := add("default", op.Op.Responses.Default); err != nil {
					return nil, fmt.Errorf("respfilter: operation %q: %w", op.ID, err)
				}
			}
		}
		f.ops[op.ID] = c
	}
	return f, nil
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// declares reports whether media type mt (lower case, no parameters) is one
// the response declares, wildcards ("text/*", "*/*") included.
func (cr *compiledResp) declares(mt string) bool {
	major, _, _ := strings.Cut(mt, "/")
	for _, t := range cr.types {
		if t == mt || t == "*/*" || t == major+"/*" {
			return true
		}
	}
	return false
}

// looksJSON reports whether body's first non-space byte opens a JSON object
// or array (the sniff for bodies sent without a Content-Type).
func looksJSON(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func emptyOf(t string) any {
	switch t {
	case "object":
		return map[string]any{}
	case "array":
		return []any{}
	}
	return nil
}

// topMatches reports whether v has one of the JSON Schema types in types.
func topMatches(v any, types []string) bool {
	if len(types) == 0 {
		return true
	}
	var got string
	switch x := v.(type) {
	case map[string]any:
		got = "object"
	case []any:
		got = "array"
	case string:
		got = "string"
	case bool:
		got = "boolean"
	case nil:
		got = "null"
	default:
		got = "number"
		if n, ok := x.(json.Number); ok && !strings.ContainsAny(string(n), ".eE") {
			got = "integer"
		}
	}
	for _, t := range types {
		if t == got || (t == "number" && got == "integer") {
			return true
		}
	}
	return false
}

// normName lower-cases s and drops '_' and '-' ("Password_Hash" →
// "passwordhash"); it allocates only when s changes.
func normName(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '_' || c == '-' || (c >= 'A' && c <= 'Z') || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range strings.ToLower(s) {
		if r == '_' || r == '-' {
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// lookupResp finds the response for status: exact code, then "2XX", then default.
func (c *compiledOp) lookupResp(status int) (*compiledResp, Mode, bool) {
	code := strconv.Itoa(status)
	rng := code[:1] + "XX"
	mode := c.mode
	for _, k := range []string{code, rng, "DEFAULT"} {
		if m, ok := c.status[k]; ok {
			mode = m
			break
		}
		if k == "DEFAULT" {
			if m, ok := c.status["default"]; ok {
				mode = m
			}
		}
	}
	for _, k := range []string{code, rng, "DEFAULT"} {
		if r, ok := c.resp[k]; ok {
			return r, mode, true
		}
	}
	return nil, mode, false
}

// Result says what Apply did.
type Result struct {
	// Stripped and Masked list JSON pointers of removed properties (at most 16 each).
	Stripped, Masked []string
	// NStripped and NMasked count them all.
	NStripped, NMasked int
	// Fallbacks counts objects under an anyOf/oneOf for which no branch
	// could be chosen (no branch matched, unknown discriminator value): they
	// were filtered against the union of the branches.
	Fallbacks int
	// Changed tells whether the body was rewritten.
	Changed bool
	// ShapeMismatch tells that the top-level type differed from the declared
	// schema's and the body was reduced (OnMismatch pass).
	ShapeMismatch bool
}

// ErrInvalid wraps a response that fails its schema in Validate mode.
var ErrInvalid = errors.New("respfilter: response does not conform to its schema")

// ErrShapeMismatch wraps a JSON response whose top-level type differs from
// its declared schema's (OnMismatch block).
var ErrShapeMismatch = errors.New("respfilter: response top-level type differs from the declared schema")

// ErrUnparseable wraps a JSON response that the strict reader rejects.
var ErrUnparseable = errors.New("respfilter: response is not valid json")

// Apply filters one complete JSON response body for operation op and status
// code status. It returns the body to send (body itself when nothing changed).
// An error means the response must not be sent (Validate mode failure or
// unparseable JSON).
//
// A `pattern` that the ECMAScript engine cannot decide within
// oasvalidate.PatternTimeout makes the body ErrInvalid (blocked), never
// passes it unfiltered.
func (f *Filter) Apply(op string, status int, body []byte) (out []byte, res Result, err error) {
	defer func() {
		if x := recover(); x != nil {
			if !oasvalidate.IsPatternTimeout(x) {
				panic(x)
			}
			out, err = nil, fmt.Errorf("%w: %w", ErrInvalid, x.(error))
		}
	}()
	c := f.ops[op]
	if c == nil {
		c = &compiledOp{mode: f.opts.Mode}
	}
	cr, mode, _ := c.lookupResp(status)
	if mode == ModeOff {
		return body, res, nil
	}
	val, err := jsonx.Parse(body, jsonx.Limits{MaxDepth: 256, MaxStringLen: int(f.opts.MaxBody), MaxArrayLen: int(f.opts.MaxBody),
		MaxKeys: int(f.opts.MaxBody), MaxNumberLen: 1024, AnyNumber: true})
	if err != nil {
		return nil, res, fmt.Errorf("%w: %w", ErrUnparseable, err)
	}
	var ss []*oasvalidate.Shape
	if cr != nil && cr.shape != nil {
		ss = []*oasvalidate.Shape{cr.shape}
	}
	if cr != nil && !topMatches(val, cr.top) {
		if f.opts.OnMismatch == MismatchBlock {
			return nil, res, fmt.Errorf("%w: declared %s", ErrShapeMismatch, strings.Join(cr.top, ","))
		}
		// Reduced to what is declared: none of a value of another type is,
		// so it becomes the empty value of the declared type.
		res.ShapeMismatch, res.Changed = true, true
		out, err := marshal(emptyOf(cr.top[0]))
		return out, res, err
	}
	if mode == ModeValidate && cr != nil && cr.schema != nil {
		if err := cr.schema.Validate(val); err != nil {
			return nil, res, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	w := &walker{f: f, unmask: c.unmask, mask: c.mask, strip: mode == ModeFilter, res: &res}
	val = w.walk(val, ss)
	if !res.Changed {
		return body, res, nil
	}
	out, err = marshal(val)
	if err != nil {
		return nil, res, fmt.Errorf("respfilter: re-encode: %w", err)
	}
	return out, res, nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

type walker struct {
	f      *Filter
	unmask map[string]bool
	mask   map[string]bool // the operation's extra mask
	strip  bool
	res    *Result
	path   []string
}

func (w *walker) note(list *[]string, n *int, key string) {
	*n++
	w.res.Changed = true
	if len(*list) < 16 {
		*list = append(*list, jsonx.Pointer(append(w.path, key)...))
	}
}

func (w *walker) walk(v any, ss []*oasvalidate.Shape) any {
	switch x := v.(type) {
	case map[string]any:
		if w.strip {
			var fell bool
			if ss, fell = oasvalidate.Select(ss, x); fell {
				w.res.Fallbacks++
			}
		}
		for k, child := range x {
			if nk := normName(k); (w.f.mask[nk] && !w.unmask[nk]) || w.mask[nk] {
				delete(x, k)
				w.note(&w.res.Masked, &w.res.NMasked, k)
				continue
			}
			children, allowed := oasvalidate.Lookup(ss, k)
			if (w.strip && !allowed) || (allowed && oasvalidate.WriteOnly(children)) {
				delete(x, k)
				w.note(&w.res.Stripped, &w.res.NStripped, k)
				continue
			}
			w.path = append(w.path, k)
			x[k] = w.walk(child, children)
			w.path = w.path[:len(w.path)-1]
		}
		return x
	case []any:
		for i, e := range x {
			w.path = append(w.path, strconv.Itoa(i))
			x[i] = w.walk(e, oasvalidate.Elems(ss, i))
			w.path = w.path[:len(w.path)-1]
		}
		return x
	case string:
		if w.f.opts.MaskCards {
			if m, ok := maskCard(x); ok {
				w.note(&w.res.Masked, &w.res.NMasked, "")
				return m
			}
		}
	}
	return v
}

// maskCard returns s masked to its last four digits when it looks like a
// payment card number: 13-19 digits (spaces and dashes allowed), a known
// issuer prefix and a valid Luhn checksum.
func maskCard(s string) (string, bool) {
	if len(s) < 13 || len(s) > 23 {
		return "", false
	}
	var d [23]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			d[n] = c - '0'
			n++
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	if n < 13 || n > 19 || !issuer(d[:n]) || !luhn(d[:n]) {
		return "", false
	}
	last := make([]byte, 4)
	for i := 0; i < 4; i++ {
		last[i] = '0' + d[n-4+i]
	}
	return strings.Repeat("*", n-4) + string(last), true
}

func issuer(d []byte) bool {
	p2 := int(d[0])*10 + int(d[1])
	p4 := p2*100 + int(d[2])*10 + int(d[3])
	switch {
	case d[0] == 4: // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // Amex
		return true
	case p4 == 6011 || p2 == 65 || (p4/10 >= 644 && p4/10 <= 649): // Discover
		return true
	case p2 == 35 || p2 == 36 || p2 == 38 || p2 == 30: // JCB, Diners
		return true
	case p2 == 62: // UnionPay
		return true
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		x := int(d[i])
		if double {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
		double = !double
	}
	return sum%10 == 0
}

// Middleware applies the filter to responses of routed requests. It removes
// Accept-Encoding from the forwarded request so the upstream answers in
// identity encoding that can be inspected; a compressed JSON response is
// treated as unparseable.
func (f *Filter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := gatehouse.RouteFrom(r.Context())
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		c := f.ops[rt.OperationID]
		if c == nil || (c.mode == ModeOff && len(c.status) == 0) {
			next.ServeHTTP(w, r)
			return
		}
		r.Header.Del("Accept-Encoding")
		run := &filterRun{f: f, r: r, op: rt.OperationID, monitor: rt.Mode == gatehouse.Monitor, c: c}
		run.bw = httpx.NewBufferWriter(w, f.opts.MaxBody, run.decide, run.oversize)
		next.ServeHTTP(run.bw, r)
		run.finish()
	})
}

func (f *Filter) observe(op, action string) {
	if f.opts.Observe != nil {
		f.opts.Observe(op, action)
	}
}

// filterRun is one response through the filter: JSON responses are buffered
// (bounded) by the shared httpx.BufferWriter; anything else passes straight
// through.
type filterRun struct {
	bw      *httpx.BufferWriter
	f       *Filter
	r       *http.Request
	c       *compiledOp
	op      string
	monitor bool
	// sniff: the body is buffered only to see whether it is JSON (no
	// Content-Type, or an undeclared type under OnMismatch pass).
	sniff bool
	// noType: the response had no Content-Type.
	noType bool
	// declaredJSON: the status is declared with a JSON body.
	declaredJSON bool
}

// mismatch logs and counts an undeclared status, content type or charset
// and says whether the response is blocked (OnMismatch block, not monitor).
func (b *filterRun) mismatch(action string, status int, ct string) bool {
	b.f.observe(b.op, action)
	b.f.log.Info("response filter: response not declared by the contract", "operation", b.op, "status", status,
		"action", action, "content_type", ct, "on_mismatch", map[bool]string{true: "pass", false: "block"}[b.f.opts.OnMismatch == MismatchPass],
		"monitor", b.monitor)
	gatehouse.RecordFrom(b.r.Context()).Set("response_filter_reason", action)
	return b.f.opts.OnMismatch == MismatchBlock
}

func (b *filterRun) decide(code int) httpx.BufferState {
	if b.r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified {
		return httpx.BufferPassing
	}
	if code == httpx.StatusClientClosedRequest && errors.Is(b.r.Context().Err(), context.Canceled) {
		return httpx.BufferPassing // the proxy's mark of a client that hung up: nothing is sent
	}
	cr, mode, found := b.c.lookupResp(code)
	if mode == ModeOff {
		return httpx.BufferPassing
	}
	h := b.bw.Header()
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	mt = strings.ToLower(mt)
	if code >= 500 || gatehouse.RecordFrom(b.r.Context()).Snapshot().Stage != "" {
		// 5xx bodies are replaced by the problem stage, and an answer of a
		// gateway stage (a tap that blocked: 429, 503) is not the
		// upstream's; only labelled JSON is filtered, as before.
		if err != nil || !isJSON(mt) {
			return httpx.BufferPassing
		}
	} else {
		b.declaredJSON = found && cr != nil && cr.json
		if !found && b.mismatch("undeclared_status", code, ct) {
			return b.blockOrPass("undeclared_status")
		}
		if ct == "" {
			// Decided in finish: a body whose first byte opens JSON is
			// treated as JSON.
			b.sniff, b.noType = true, true
			return httpx.BufferBuffering
		}
		if err == nil && isJSON(mt) {
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && b.mismatch("charset", code, ct) {
				return b.blockOrPass("charset")
			}
		}
		if found && cr != nil && len(cr.types) > 0 && (err != nil || !cr.declares(mt)) {
			if b.mismatch("undeclared_content_type", code, ct) {
				return b.blockOrPass("undeclared_content_type")
			}
			if err != nil || !isJSON(mt) {
				b.sniff = true // filtered in finish if it is JSON after all
				return httpx.BufferBuffering
			}
		}
		if err != nil || !isJSON(mt) {
			return httpx.BufferPassing // declared non-JSON (including text/event-stream) passes untouched
		}
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		b.f.observe(b.op, "encoded")
		b.f.log.Info("response filter: encoded json response cannot be inspected", "operation", b.op, "content_encoding", ce)
		return b.blockOrPass("encoded")
	}
	return httpx.BufferBuffering // a Content-Length over MaxBody goes to oversize
}

func (b *filterRun) blockOrPass(reason string) httpx.BufferState {
	if b.monitor {
		gatehouse.RecordFrom(b.r.Context()).Monitor(Stage, reason)
		return httpx.BufferPassing
	}
	gatehouse.RecordFrom(b.r.Context()).Block(Stage, reason)
	return httpx.BufferDiscarding
}

func (b *filterRun) oversize(n int64) httpx.BufferState {
	if b.f.opts.Oversize == OversizePass {
		b.f.observe(b.op, "oversize_pass")
		b.f.log.Info("response filter: oversize response passed unfiltered", "operation", b.op,
			"bytes_at_least", n, "max_body", b.f.opts.MaxBody)
		gatehouse.RecordFrom(b.r.Context()).Set("response_filter", "oversize_pass")
		return httpx.BufferPassing
	}
	b.f.observe(b.op, "oversize_block")
	b.f.log.Info("response filter: oversize response blocked", "operation", b.op,
		"bytes_at_least", n, "max_body", b.f.opts.MaxBody)
	return b.blockOrPass("oversize")
}

func (b *filterRun) finish() {
	status := b.bw.Status()
	switch b.bw.State() {
	case httpx.BufferUndecided, httpx.BufferPassing:
		return
	case httpx.BufferDiscarding:
		b.fail()
		return
	}
	ctx := b.r.Context()
	lenient := false
	if b.sniff {
		if !looksJSON(b.bw.Body()) {
			b.bw.Send(0, b.bw.Body())
			return
		}
		if b.noType && !b.declaredJSON && b.mismatch("undeclared_content_type", status, "") {
			if b.monitor {
				gatehouse.RecordFrom(ctx).Monitor(Stage, "undeclared_content_type")
				b.bw.Send(0, b.bw.Body())
				return
			}
			gatehouse.RecordFrom(ctx).Block(Stage, "undeclared_content_type")
			b.fail()
			return
		}
		// JSON-looking but not labelled JSON: a body that does not parse is
		// not JSON after all and passes.
		lenient = !b.declaredJSON || !b.noType
	}
	body, res, err := b.f.Apply(b.op, status, b.bw.Body())
	if err != nil && lenient && errors.Is(err, ErrUnparseable) {
		b.bw.Send(0, b.bw.Body())
		return
	}
	if err != nil {
		action := "invalid"
		if errors.Is(err, ErrUnparseable) {
			action = "unparseable"
		} else if errors.Is(err, ErrShapeMismatch) {
			action = "shape_mismatch"
		}
		b.f.observe(b.op, action)
		b.f.log.Info("response filter: response blocked", "operation", b.op, "status", status,
			"action", action, "reason", err.Error(), "monitor", b.monitor)
		gatehouse.RecordFrom(ctx).Set("response_filter_reason", err.Error())
		if b.monitor {
			gatehouse.RecordFrom(ctx).Monitor(Stage, action)
			b.bw.Send(0, b.bw.Body())
			return
		}
		gatehouse.RecordFrom(ctx).Block(Stage, action)
		b.fail()
		return
	}
	if res.ShapeMismatch {
		b.f.observe(b.op, "shape_mismatch")
		b.f.log.Info("response filter: top-level type differs from the declared schema; reduced", "operation", b.op, "status", status)
	}
	if res.Fallbacks > 0 {
		b.f.observe(b.op, "branch_fallback")
		b.f.log.Info("response filter: no anyOf/oneOf branch could be chosen; filtered against the union of the branches",
			"operation", b.op, "status", status, "objects", res.Fallbacks)
	}
	if res.Changed {
		if res.NStripped > 0 {
			b.f.observe(b.op, "stripped")
		}
		if res.NMasked > 0 {
			b.f.observe(b.op, "masked")
		}
		b.f.log.Info("response filter: fields removed", "operation", b.op, "status", status,
			"stripped", strings.Join(res.Stripped, ","), "masked", strings.Join(res.Masked, ","),
			"n_stripped", res.NStripped, "n_masked", res.NMasked, "monitor", b.monitor)
		gatehouse.RecordFrom(ctx).Set("response_filter", fmt.Sprintf("stripped=%d masked=%d", res.NStripped, res.NMasked))
		if b.monitor {
			gatehouse.RecordFrom(ctx).Monitor(Stage, fmt.Sprintf("would strip %d and mask %d fields", res.NStripped, res.NMasked))
			body = b.bw.Body()
		} else {
			h := b.bw.Header()
			for _, k := range []string{"Etag", "Content-Md5", "Digest", "Repr-Digest", "Content-Digest"} {
				h.Del(k)
			}
		}
	}
	b.bw.Send(0, body)
}

// fail answers a blocked response with the generic problem+json: nothing
// of the upstream's body leaves. A client error (4xx) keeps its status, so
// a failed login stays a 401 and a conflict a 409 for the client's logic
// (real APIs often label their errors differently from their contract);
// anything else becomes 502.
func (b *filterRun) fail() {
	h := b.bw.Header()
	for _, k := range []string{"Content-Length", "Etag", "Content-Encoding", "Last-Modified"} {
		h.Del(k)
	}
	code := http.StatusBadGateway
	if s := b.bw.Status(); s >= 400 && s < 500 {
		code = s
	}
	problem.Write(b.bw.Unwrap(), b.r, code)
}

func (c *compiledOp) validates() bool {
	if c.mode == ModeValidate {
		return true
	}
	for _, m := range c.status {
		if m == ModeValidate {
			return true
		}
	}
	return false
}
