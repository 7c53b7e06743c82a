// Package openapi is gatehouse's one spec model: it loads an OpenAPI 3.0/3.1
// document (or Swagger 2.0, converted on load), indexes its operations, and
// matches (method, raw path) to an operation after canonical normalization.
// The gateway, the scanner and the auditor all use it; nothing else parses
// OpenAPI. A Spec is immutable after Load and safe for concurrent use.
//
// Library: libopenapi (complete 3.1, line/column of every node, loads the
// 2,900-file DigitalOcean spec that kin-openapi rejects); it keeps ~3x more
// heap than kin-openapi (47 vs 15 MiB for the 3 MB OpenAI spec): see docs/spec-model.md.
//
// # Path normalization policy (Match)
//
// The router canonicalizes the raw request path once, and what it matched
// is what the gateway forwards (Match.RawPath), so the gateway and the
// upstream cannot disagree on the resource. Anything that a server could
// read two ways is rejected with ErrBadPath (400), never guessed:
//
//   - The path must start with '/' (empty, "*" and absolute-form are
//     ErrBadPath; use RequestPath to extract an absolute-form path) and be
//     at most MaxPathLength bytes. A "?query" suffix is ignored.
//   - Raw characters must be RFC 3986 pchar; raw ';' (matrix parameters,
//     the Tomcat/Spring "..;/" bypass), '#', '\', space, controls and
//     ""<>^`{|}" are ErrBadPath. Raw UTF-8 is accepted like its
//     percent-encoded form.
//   - Each segment is percent-decoded exactly once ("%252e" is the text
//     "%2e"). Invalid escapes, and escapes that decode to '/', '\', ';', NUL
//     or any control character (%2F, %5C, %3B, %00, %0A...), are ErrBadPath.
//   - Decoded UTF-8 must be valid (overlong forms like %C0%AE and
//     surrogates are ErrBadPath); a character whose NFKC form contains one
//     of "./\;%#?" (FULLWIDTH FULL STOP, FULLWIDTH SOLIDUS, ONE DOT
//     LEADER...) is ErrBadPath; other non-ASCII characters are literal data.
//   - Dot segments, plain or encoded, and segments made only of dots and
//     spaces ("...", ".. ", Windows aliases of "..") are ErrBadPath.
//   - Empty segments ("//") are ErrBadPath, never merged. A trailing slash
//     is significant: "/users/" matches only a "/users/" template.
//   - Literal segments match byte for byte, case-sensitively: "/ADMIN" and
//     "/admin." are 404 for an "/admin" template. Methods are case-sensitive.
//   - Templates: a literal segment beats a parameter; among matching
//     templates the one with the most literal segments wins, then the one
//     with the most mixed segments ("{id}.json", "{id}:cancel"); a remaining
//     tie, or a mixed segment that splits two ways, is ErrBadPath.
//     Parameters never match an empty segment.
//   - A known path with an unknown method is a *MethodNotAllowedError
//     (wraps ErrMethodNotAllowed) carrying the Allow list; HEAD is not GET.
//   - RawPath re-encodes each decoded segment: unreserved and "$&:=@" stay
//     raw, every other byte is %XX in upper-case hex (url.PathEscape's
//     rules, plus '+' encoded because some decoders read it as a space).
//
// StripOverrideHeaders removes method- and URL-override headers, which the
// gateway never honours.
package openapi

import (
	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Spec is a loaded, indexed OpenAPI document. It is immutable after Load and
// safe for concurrent use.
type Spec struct {
	// Path is the file the spec was loaded from ("" when loaded from bytes).
	Path string
	// Version is the document's declared version ("3.1.0", "3.0.3", "2.0").
	Version string
	// Operations lists every operation in document order.
	Operations []*Operation
	// Warnings lists non-fatal problems found at load, each prefixed with
	// "file:line:col: " (e.g. a path template that cannot be routed).
	Warnings []string

	// The libopenapi document and model (Document, Model) are held as
	// `any`: with fields of libopenapi's types, every package that reads a
	// Spec or an Operation (scan/checks, the demo, the command...) compiled
	// libopenapi's generic ordered maps again, about 10,000 functions and
	// 12 CPU-seconds per package and test variant (golang/go#56718). Now a
	// package pays that only if it calls Model, Document or an Operation's
	// accessor functions.
	doc   any // libopenapi.Document
	model any // *v3.Document

	file   string     // absolute path, "" for LoadBytes
	root   *yaml.Node // root of the source file, for Position
	byID   map[string]*Operation
	router *Router
}

// Operation is one (method, path template) pair of the spec.
type Operation struct {
	// ID is the operationId, or "METHOD /template" when the spec has none.
	ID string
	// HasOperationID tells whether ID came from the spec.
	HasOperationID bool
	Method         string // upper case
	Template       string // e.g. "/users/{user_id}"
	Tags           []string
	// Pointer is the JSON pointer of the operation, e.g. "/paths/~1users~1{id}/get".
	Pointer string

	pathItem any // *v3.PathItem (see Spec.doc for why not typed)
	op       any // *v3.Operation
	params   any // []*v3.Parameter
}

// Document returns the libopenapi document of s (for line/column lookups
// and the rolodex of a multi-file spec).
//
// Document, Model, Op, PathItem and Params are functions, not methods: a
// method whose signature names a libopenapi type is read with the type by
// every package that uses a Spec or an Operation, which then compiles
// libopenapi's generic ordered maps again (see Spec.doc).
func Document(s *Spec) libopenapi.Document {
	d, _ := s.doc.(libopenapi.Document)
	return d
}

// Model returns the high-level OpenAPI 3 model of s (Swagger 2.0 is
// converted).
func Model(s *Spec) *v3.Document {
	m, _ := s.model.(*v3.Document)
	return m
}

// PathItem returns the path item o belongs to.
func PathItem(o *Operation) *v3.PathItem {
	p, _ := o.pathItem.(*v3.PathItem)
	return p
}

// Op returns the libopenapi model of o.
func Op(o *Operation) *v3.Operation {
	op, _ := o.op.(*v3.Operation)
	return op
}

// Params returns the effective parameter list of o (path-item parameters
// overridden by operation parameters with the same name and location).
func Params(o *Operation) []*v3.Parameter {
	p, _ := o.params.([]*v3.Parameter)
	return p
}
