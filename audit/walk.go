package audit

import (
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
)

// direction of a schema: what a client sends, or what the API answers.
type direction int

const (
	dirRequest direction = iota
	dirResponse
)

// site is one schema reached from an operation, at its canonical pointer: a
// schema reached through a local $ref is reported once, at its definition
// ("/components/schemas/User"), whichever operations use it.
type site struct {
	s   *base.Schema
	ptr string
	op  *openapi.Operation // first operation that reached it
	dir direction
	// body: reached from a request or response body (not a parameter).
	body bool
	// member: reached as an allOf/anyOf/oneOf member, where
	// additionalProperties: false would reject its siblings' properties.
	member bool
	// param is the parameter name for a parameter's top-level schema.
	param string
	// external: the schema lives in another file (reached through a
	// non-local $ref); ptr is then the $ref site's.
	external bool
}

// Limits on the walk of hostile documents (deep nesting, huge fan-out).
const (
	maxSchemaDepth = 64
	maxSites       = 200_000
)

type schemaIndex struct {
	c     *auditCtx
	sites []*site
	seen  map[string]bool
}

func buildSchemaIndex(c *auditCtx) *schemaIndex {
	ix := &schemaIndex{c: c, seen: map[string]bool{}}
	for _, op := range c.spec.Operations {
		for _, p := range openapi.Params(op) {
			pp := paramPointer(op, p)
			if p.Schema != nil {
				ix.walk(p.Schema, pp+"/schema", dirRequest, op, false, false, p.Name, 0)
			}
			if p.Content != nil {
				for ct, mt := range p.Content.FromOldest() {
					if mt != nil && mt.Schema != nil {
						ix.walk(mt.Schema, pp+"/content/"+escape(ct)+"/schema", dirRequest, op, false, false, p.Name, 0)
					}
				}
			}
		}
		if rb := openapi.Op(op).RequestBody; rb != nil && rb.Content != nil {
			for ct, mt := range rb.Content.FromOldest() {
				if mt != nil && mt.Schema != nil {
					ix.walk(mt.Schema, op.Pointer+"/requestBody/content/"+escape(ct)+"/schema", dirRequest, op, true, false, "", 0)
				}
			}
		}
		forResponses(op, func(code string, r *v3.Response) {
			if r.Content == nil {
				return
			}
			for ct, mt := range r.Content.FromOldest() {
				if mt != nil && mt.Schema != nil {
					ix.walk(mt.Schema, op.Pointer+"/responses/"+escape(code)+"/content/"+escape(ct)+"/schema", dirResponse, op, true, false, "", 0)
				}
			}
		})
	}
	return ix
}

// forResponses calls f for each declared response of op, "default" last.
func forResponses(op *openapi.Operation, f func(code string, r *v3.Response)) {
	if openapi.Op(op).Responses == nil {
		return
	}
	if openapi.Op(op).Responses.Codes != nil {
		for code, r := range openapi.Op(op).Responses.Codes.FromOldest() {
			if r != nil {
				f(code, r)
			}
		}
	}
	if openapi.Op(op).Responses.Default != nil {
		f("default", openapi.Op(op).Responses.Default)
	}
}

// paramPointer returns the JSON pointer of parameter p of op: in the
// operation's list, or else in the path item's.
func paramPointer(op *openapi.Operation, p *v3.Parameter) string {
	for i, q := range openapi.Op(op).Parameters {
		if q == p {
			return op.Pointer + "/parameters/" + strconv.Itoa(i)
		}
	}
	if openapi.PathItem(op) != nil {
		for i, q := range openapi.PathItem(op).Parameters {
			if q == p {
				return op.Pointer[:strings.LastIndexByte(op.Pointer, '/')] + "/parameters/" + strconv.Itoa(i)
			}
		}
	}
	return op.Pointer + "/parameters"
}

func (ix *schemaIndex) walk(sp *base.SchemaProxy, ptr string, dir direction, op *openapi.Operation, body, member bool, param string, depth int) {
	ix.walkExt(sp, ptr, dir, op, body, member, param, depth, false)
}

func (ix *schemaIndex) walkExt(sp *base.SchemaProxy, ptr string, dir direction, op *openapi.Operation, body, member bool, param string, depth int, external bool) {
	if sp == nil || depth > maxSchemaDepth || len(ix.sites) >= maxSites {
		return
	}
	key := ptr
	if sp.IsReference() {
		ref := sp.GetReference()
		if !external && strings.HasPrefix(ref, "#/") {
			ptr = ref[1:]
			key = ptr
		} else {
			// another file (or a local ref inside another file): keep the
			// pointer of the $ref site in the root file (Position lands on
			// it) and deduplicate by (referring file, reference).
			from := ""
			if o := sp.GetReferenceOrigin(); o != nil {
				from = o.AbsoluteLocation
			}
			key = "ref:" + from + "|" + ref
			external = true
		}
	}
	key = strconv.Itoa(int(dir)) + key
	if ix.seen[key] {
		return
	}
	ix.seen[key] = true
	s := sp.Schema()
	if s == nil {
		return
	}
	if s.Extensions != nil {
		if n, ok := s.Extensions.Get(IgnoreExtension); ok {
			ix.c.ignores.add(ptr, n)
		}
	}
	ix.sites = append(ix.sites, &site{s: s, ptr: ptr, op: op, dir: dir, body: body, member: member, param: param, external: external})
	if s.Properties != nil {
		for name, p := range openapi.Properties(s) {
			ix.walkExt(p, ptr+"/properties/"+escape(name), dir, op, body, false, "", depth+1, external)
		}
	}
	if s.Items != nil && s.Items.IsA() {
		ix.walkExt(s.Items.A, ptr+"/items", dir, op, body, false, "", depth+1, external)
	}
	for i, p := range s.PrefixItems {
		ix.walkExt(p, ptr+"/prefixItems/"+strconv.Itoa(i), dir, op, body, false, "", depth+1, external)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.IsA() {
		ix.walkExt(s.AdditionalProperties.A, ptr+"/additionalProperties", dir, op, body, false, "", depth+1, external)
	}
	for _, group := range []struct {
		name string
		list []*base.SchemaProxy
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}} {
		for i, p := range group.list {
			ix.walkExt(p, ptr+"/"+group.name+"/"+strconv.Itoa(i), dir, op, body, true, param, depth+1, external)
		}
	}
}

// hasType reports whether s declares type t (3.0 single type or a 3.1
// type list).
func hasType(s *base.Schema, t string) bool {
	for _, x := range s.Type {
		if x == t {
			return true
		}
	}
	return false
}

// isObject reports whether s describes an object with declared properties.
func isObject(s *base.Schema) bool {
	return hasType(s, "object") || (len(s.Type) == 0 && s.Properties != nil && s.Properties.Len() > 0)
}

// composed reports whether s is only a composition (allOf/anyOf/oneOf).
func composed(s *base.Schema) bool {
	return len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0
}

func boolTrue(b *bool) bool { return b != nil && *b }
