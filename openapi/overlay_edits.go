package openapi

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"
	highoverlay "github.com/pb33f/libopenapi/datamodel/high/overlay"
)

// OperationEdit is a per-operation shortcut for the common overlay edits
// (config routes.<key>: deny, constraints). EditsOverlay translates a list
// of them into overlay actions, so they go through the same engine as
// overlay files and are applied after them.
type OperationEdit struct {
	// Key is the operationId or "METHOD /template".
	Key string
	// Source is the config key path for messages ("routes.getUser").
	Source string
	// Deny removes the operation from the effective spec: requests for it
	// are answered like any undeclared route (404, or 405 when the path
	// has other methods) and never reach the upstream.
	Deny bool
	// Constraints maps a request field to the JSON Schema keywords added
	// to it. Field names: "query:NAME", "path:NAME", "header:NAME",
	// "cookie:NAME" for parameters; a JSON pointer ("/title",
	// "/address/street", "/tags/0" for array items) for request body
	// properties.
	Constraints map[string]FieldConstraint
}

// FieldConstraint is the set of JSON Schema keywords a constraint adds
// (nil / empty: not set). Keywords already in the spec are replaced.
type FieldConstraint struct {
	MaxLength *int64
	MinLength *int64
	Pattern   string
	Format    string
	Enum      []string
	Minimum   *float64
	Maximum   *float64
	MaxItems  *int64
}

// IsZero reports whether c sets no keyword.
func (c FieldConstraint) IsZero() bool {
	return c.MaxLength == nil && c.MinLength == nil && c.Pattern == "" && c.Format == "" &&
		len(c.Enum) == 0 && c.Minimum == nil && c.Maximum == nil && c.MaxItems == nil
}

var httpMethodKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// EditsOverlay translates edits into one overlay against the document data
// (the spec after the overlay files). Per operation, with constraints:
//
//   - parameters: the operation's own parameters list is replaced (remove,
//     then update) by a copy in which each constrained parameter is
//     inlined (a $ref to components/parameters is resolved) and its
//     schema (Swagger 2.0: the parameter itself) gets the keywords; a
//     parameter declared on the path item gets an operation-level copy,
//     which overrides it for this operation only;
//   - body fields: the operation's requestBody (2.0: its body parameter)
//     is replaced by a copy in which the schemas along the JSON pointer
//     are inlined, so a constraint never leaks into other operations that
//     share a component schema; every media type whose schema declares the
//     field gets it.
//
// Deny removes the operation. It returns nil when no edit does anything.
// Errors are *EditError located at the edit's Source.
func EditsOverlay(data []byte, edits []OperationEdit) (ov *Overlay, err error) {
	defer func() {
		if r := recover(); r != nil {
			ov, err = nil, fmt.Errorf("%w: routes edits: panic: %v", ErrInvalidOverlay, r)
		}
	}()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: spec: %w", ErrInvalidOverlay, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: spec is not a mapping", ErrInvalidOverlay)
	}
	doc := root.Content[0]
	swagger2 := mapGet(doc, "swagger") != nil
	ov = &Overlay{
		Name:  "routes",
		edits: true,
		doc: &highoverlay.Overlay{
			Overlay: "1.0.0",
			Info:    &highoverlay.Info{Title: "gatehouse routes", Version: "1"},
		},
		where: map[*highoverlay.Action]string{},
	}
	add := func(src, target string, update *yaml.Node, remove bool) {
		a := &highoverlay.Action{Target: target, Update: update, Remove: remove}
		ov.doc.Actions = append(ov.doc.Actions, a)
		ov.where[a] = src
	}
	sorted := append([]OperationEdit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Source < sorted[j].Source })
	for _, e := range sorted {
		if !e.Deny && len(e.Constraints) == 0 {
			continue
		}
		pathKey, method, pathItem, op := findRawOperation(doc, e.Key)
		if op == nil {
			return nil, &EditError{Source: e.Source, Err: fmt.Errorf("%w: operation %q is not in the spec", ErrInvalidOverlay, e.Key)}
		}
		target := "$.paths[" + jpQuote(pathKey) + "][" + jpQuote(method) + "]"
		if e.Deny {
			add(e.Source+".deny", target, nil, true)
			continue
		}
		params, body, err := constrainOperation(doc, pathItem, op, e, swagger2)
		if err != nil {
			return nil, err
		}
		if params != nil {
			if mapGet(op, "parameters") != nil {
				add(e.Source+".constraints", target+".parameters", nil, true)
			}
			add(e.Source+".constraints", target, mapping("parameters", params), false)
		}
		if body != nil {
			add(e.Source+".constraints", target+".requestBody", nil, true)
			add(e.Source+".constraints", target, mapping("requestBody", body), false)
		}
	}
	if len(ov.doc.Actions) == 0 {
		return nil, nil
	}
	return ov, nil
}

// constrainOperation returns the operation's new parameters list and/or
// requestBody (nil when unchanged).
func constrainOperation(doc, pathItem, op *yaml.Node, e OperationEdit, swagger2 bool) (params, body *yaml.Node, err error) {
	fields := make([]string, 0, len(e.Constraints))
	for f := range e.Constraints {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		c := e.Constraints[f]
		src := e.Source + ".constraints." + f
		fail := func(format string, args ...any) error {
			return &EditError{Source: src, Err: fmt.Errorf("%w: %s", ErrInvalidOverlay, fmt.Sprintf(format, args...))}
		}
		if c.IsZero() {
			return nil, nil, fail("constraint sets no keyword")
		}
		if strings.HasPrefix(f, "/") {
			tokens := splitJSONPointer(f)
			if swagger2 {
				if params == nil {
					params = cloneParams(op)
				}
				bp := paramIndex(doc, params, pathItem, "body", "")
				if bp < 0 {
					return nil, nil, fail("operation %q has no body parameter", e.Key)
				}
				p := resolveCopy(doc, params.Content[bp])
				if p == nil {
					return nil, nil, fail("cannot resolve the body parameter")
				}
				params.Content[bp] = p
				s, err := constrainSchema(doc, mapGet(p, "schema"), tokens, c)
				if err != nil {
					return nil, nil, fail("%v", err)
				}
				mapSet(p, "schema", s)
				continue
			}
			if body == nil {
				rb := mapGet(op, "requestBody")
				if rb == nil {
					return nil, nil, fail("operation %q has no request body", e.Key)
				}
				if body = resolveCopy(doc, rb); body == nil {
					return nil, nil, fail("cannot resolve the request body")
				}
			}
			content := mapGet(body, "content")
			if content == nil || content.Kind != yaml.MappingNode {
				return nil, nil, fail("the request body has no content")
			}
			done := 0
			var lastErr error
			for i := 0; i+1 < len(content.Content); i += 2 {
				mt := content.Content[i+1]
				if mt.Kind != yaml.MappingNode || mapGet(mt, "schema") == nil {
					continue
				}
				s, err := constrainSchema(doc, mapGet(mt, "schema"), tokens, c)
				if err != nil {
					lastErr = err
					continue
				}
				mt = cloneNode(mt)
				mapSet(mt, "schema", s)
				content.Content[i+1] = mt
				done++
			}
			if done == 0 {
				if lastErr == nil {
					lastErr = errors.New("no media type declares a schema")
				}
				return nil, nil, fail("%v", lastErr)
			}
			continue
		}
		in, name, ok := strings.Cut(f, ":")
		switch in {
		case "query", "path", "header", "cookie":
		default:
			ok = false
		}
		if !ok || name == "" {
			return nil, nil, fail("field %q must be a JSON pointer (\"/title\") or query:NAME, path:NAME, header:NAME, cookie:NAME", f)
		}
		if params == nil {
			params = cloneParams(op)
		}
		i := paramIndex(doc, params, pathItem, in, name)
		if i < 0 {
			return nil, nil, fail("operation %q declares no %s parameter %q", e.Key, in, name)
		}
		p := resolveCopy(doc, params.Content[i])
		if p == nil {
			return nil, nil, fail("cannot resolve parameter %q", name)
		}
		params.Content[i] = p
		if swagger2 || mapGet(p, "schema") == nil {
			if mapGet(p, "schema") == nil && mapGet(p, "content") != nil {
				return nil, nil, fail("parameter %q uses content, not schema: write an overlay for it", name)
			}
			if err := applyKeywords(p, c); err != nil {
				return nil, nil, fail("%v", err)
			}
			continue
		}
		s, err := constrainSchema(doc, mapGet(p, "schema"), nil, c)
		if err != nil {
			return nil, nil, fail("%v", err)
		}
		mapSet(p, "schema", s)
	}
	return params, body, nil
}

// cloneParams copies the operation's parameters list (an empty sequence
// when it has none).
func cloneParams(op *yaml.Node) *yaml.Node {
	if ps := mapGet(op, "parameters"); ps != nil && ps.Kind == yaml.SequenceNode {
		return cloneNode(ps)
	}
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
}

// paramIndex finds the parameter (in, name) in params (the operation's own
// list) or, failing that, on the path item, whose copy it then appends to
// params. name "" matches any name (the 2.0 body parameter). -1: none.
func paramIndex(doc, params, pathItem *yaml.Node, in, name string) int {
	match := func(p *yaml.Node) bool {
		r := resolve(doc, p)
		return r != nil && scalar(r, "in") == in && (name == "" || scalar(r, "name") == name)
	}
	for i, p := range params.Content {
		if match(p) {
			return i
		}
	}
	if pathItem != nil {
		if ps := mapGet(pathItem, "parameters"); ps != nil {
			for _, p := range ps.Content {
				if match(p) {
					params.Content = append(params.Content, cloneNode(p))
					return len(params.Content) - 1
				}
			}
		}
	}
	return -1
}

// constrainSchema returns a copy of schema in which the subschema at
// tokens (properties by name, array items for a number or "-") has the
// keywords; every schema on the way is inlined.
func constrainSchema(doc, schema *yaml.Node, tokens []string, c FieldConstraint) (*yaml.Node, error) {
	s := resolveCopy(doc, schema)
	if s == nil {
		return nil, errors.New("cannot resolve the schema")
	}
	if len(tokens) == 0 {
		return s, applyKeywords(s, c)
	}
	tok := tokens[0]
	if tok == "-" || isIndex(tok) {
		items := mapGet(s, "items")
		if items == nil {
			return nil, fmt.Errorf("%q: the schema has no array items", tok)
		}
		ns, err := constrainSchema(doc, items, tokens[1:], c)
		if err != nil {
			return nil, err
		}
		mapSet(s, "items", ns)
		return s, nil
	}
	props := mapGet(s, "properties")
	var prop *yaml.Node
	if props != nil {
		prop = mapGet(props, tok)
	}
	if prop == nil {
		return nil, fmt.Errorf("the schema declares no property %q", tok)
	}
	ns, err := constrainSchema(doc, prop, tokens[1:], c)
	if err != nil {
		return nil, err
	}
	mapSet(props, tok, ns)
	return s, nil
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// applyKeywords sets c's keywords on the schema (or 2.0 parameter) m.
func applyKeywords(m *yaml.Node, c FieldConstraint) error {
	if m.Kind != yaml.MappingNode {
		return errors.New("the schema is not an object")
	}
	typ := scalar(m, "type")
	setInt := func(k string, v *int64) {
		if v != nil {
			mapSet(m, k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(*v, 10)})
		}
	}
	setNum := func(k string, v *float64) {
		if v != nil {
			tag := "!!float"
			if *v == math.Trunc(*v) && math.Abs(*v) < 1<<53 {
				tag = "!!int"
			}
			mapSet(m, k, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: strconv.FormatFloat(*v, 'f', -1, 64)})
		}
	}
	setStr := func(k, v string) {
		if v != "" {
			mapSet(m, k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle})
		}
	}
	setInt("maxLength", c.MaxLength)
	setInt("minLength", c.MinLength)
	setInt("maxItems", c.MaxItems)
	setNum("minimum", c.Minimum)
	setNum("maximum", c.Maximum)
	if c.Pattern != "" {
		if _, err := regexp.Compile(c.Pattern); err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
	}
	setStr("pattern", c.Pattern)
	setStr("format", c.Format)
	if len(c.Enum) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, v := range c.Enum {
			n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}
			switch typ {
			case "integer":
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					return fmt.Errorf("enum value %q is not an integer", v)
				}
				n.Tag, n.Style = "!!int", 0
			case "number":
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					return fmt.Errorf("enum value %q is not a number", v)
				}
				n.Tag, n.Style = "!!float", 0
			case "boolean":
				if v != "true" && v != "false" {
					return fmt.Errorf("enum value %q is not a boolean", v)
				}
				n.Tag, n.Style = "!!bool", 0
			}
			seq.Content = append(seq.Content, n)
		}
		mapSet(m, "enum", seq)
	}
	return nil
}

// findRawOperation finds key (operationId, or "METHOD /template" with the
// method in any case) in the document's paths.
func findRawOperation(doc *yaml.Node, key string) (pathKey, method string, pathItem, op *yaml.Node) {
	paths := mapGet(doc, "paths")
	if paths == nil || paths.Kind != yaml.MappingNode {
		return "", "", nil, nil
	}
	m, t, isTemplate := strings.Cut(key, " ")
	for i := 0; i+1 < len(paths.Content); i += 2 {
		pk, pi := paths.Content[i].Value, paths.Content[i+1]
		if pi.Kind != yaml.MappingNode {
			continue
		}
		for _, meth := range httpMethodKeys {
			o := mapGet(pi, meth)
			if o == nil || o.Kind != yaml.MappingNode {
				continue
			}
			if scalar(o, "operationId") == key || (isTemplate && strings.EqualFold(m, meth) && pk == t) {
				return pk, meth, pi, o
			}
		}
	}
	return "", "", nil, nil
}

// resolve follows local $refs ("#/components/...") from n; nil when a ref
// cannot be resolved or the chain is longer than maxRefChain.
func resolve(doc, n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i <= maxRefChain; i++ {
		if n.Kind != yaml.MappingNode {
			return n
		}
		ref := mapGet(n, "$ref")
		if ref == nil {
			return n
		}
		if !strings.HasPrefix(ref.Value, "#/") {
			return nil
		}
		n = doc
		for _, tok := range splitJSONPointer(ref.Value[1:]) {
			switch n.Kind {
			case yaml.MappingNode:
				n = mapGet(n, tok)
			case yaml.SequenceNode:
				j, err := strconv.Atoi(tok)
				if err != nil || j < 0 || j >= len(n.Content) {
					return nil
				}
				n = n.Content[j]
			default:
				return nil
			}
			if n == nil {
				return nil
			}
		}
	}
	if n != nil && n.Kind == yaml.MappingNode && mapGet(n, "$ref") != nil {
		return nil
	}
	return n
}

// resolveCopy is a deep copy of resolve(doc, n).
func resolveCopy(doc, n *yaml.Node) *yaml.Node {
	r := resolve(doc, n)
	if r == nil {
		return nil
	}
	return cloneNode(r)
}

func splitJSONPointer(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// jpQuote quotes s as a JSONPath name selector ('...', RFC 9535).
func jpQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func scalar(m *yaml.Node, key string) string {
	if v := mapGet(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func mapping(key string, v *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v,
	}}
}

// cloneNode deep-copies n (aliases are copied as aliases).
func cloneNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = cloneNode(k)
	}
	return &c
}
