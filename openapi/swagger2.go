package openapi

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pb33f/go-yaml"
)

// prepareV2 readies a Swagger 2.0 document for kin-openapi's converter,
// which leaves some things in a state its own resolver then refuses, with
// an error that points into the converted JSON ("line 1 col 12167"), not
// the user's file. Working on the user's YAML, before conversion:
//
//   - every local $ref must resolve in the document; one that does not is
//     an error at its FILE:LINE:COL;
//   - "#/definitions/X" becomes "#/components/schemas/X" everywhere: the
//     converter rewrites refs only where it expects schemas, not under
//     additionalProperties.properties nor inside vendor extensions
//     (x-ms-paths, x-anyOf), and then fails to resolve the leftovers;
//   - inside vendor extensions, "#/responses/X" and "#/parameters/X" are
//     rewritten to where the converter puts them (a body parameter becomes
//     a request body), so the converted document is consistent;
//   - tuple validation (items: [a, b]), which neither Swagger 2.0 nor
//     OpenAPI 3.0 has, is degraded to items: {} (any item) with a warning.
//
// It returns the document to convert (data itself when nothing changed).
func prepareV2(data []byte, name string) (out []byte, warnings []string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return data, nil, nil
	}
	p := &v2prep{root: root, name: name, bodyParams: map[string]bool{}}
	if params := mapGet(root, "parameters"); params != nil && params.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(params.Content); i += 2 {
			if in := mapGet(params.Content[i+1], "in"); in != nil && in.Value == "body" {
				p.bodyParams[params.Content[i].Value] = true
			}
		}
	}
	p.walk(root, false, "", 0)
	if len(p.errs) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(p.errs, "; "))
	}
	if !p.changed {
		return data, p.warnings, nil
	}
	out, err = yaml.Marshal(&doc)
	if err != nil {
		return nil, nil, err
	}
	return out, p.warnings, nil
}

type v2prep struct {
	root       *yaml.Node
	name       string
	bodyParams map[string]bool
	changed    bool
	errs       []string
	warnings   []string
}

func (p *v2prep) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", p.name, n.Line, n.Column) }

// walk visits n; ext tells whether n sits inside a vendor extension, key is
// the mapping key that holds n. Example and default values are data, never
// visited: a "$ref" or an "items" there is the API's payload.
func (p *v2prep) walk(n *yaml.Node, ext bool, key string, depth int) {
	if n == nil || depth > MaxSpecDepth || len(p.errs) > 20 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case !ext && key != "properties" && key != "definitions" && (k.Value == "example" || k.Value == "examples" || k.Value == "default" || k.Value == "enum" || k.Value == "x-example" || k.Value == "x-examples"):
				continue // data
			case k.Value == "$ref" && v.Kind == yaml.ScalarNode:
				if !p.ref(v, ext) {
					// libopenapi resolves every $ref, extensions too, and
					// refuses the whole document for one it cannot.
					p.warnings = append(p.warnings, fmt.Sprintf("%s: $ref %q in a vendor extension does not resolve in the document; ignored", p.at(v), v.Value))
					k.Value, p.changed = "x-gatehouse-unresolved-ref", true
				}
				continue
			case k.Value == "items" && v.Kind == yaml.SequenceNode && !ext && key != "properties":
				p.warnings = append(p.warnings, fmt.Sprintf("%s: tuple validation (items: [...]) is not part of Swagger 2.0 or OpenAPI 3.0; any item is accepted", p.at(k)))
				n.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
				p.changed = true
				continue
			}
			p.walk(v, ext || strings.HasPrefix(k.Value, "x-"), k.Value, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			p.walk(c, ext, "", depth+1)
		}
	}
}

// ref checks and rewrites one $ref value. It reports false for a ref in
// a vendor extension that is not a local ref to an existing node (the caller
// sets it aside); outside extensions such a local ref is an error.
func (p *v2prep) ref(v *yaml.Node, ext bool) bool {
	ref := v.Value
	if !strings.HasPrefix(ref, "#") {
		return !ext // another file: the converter's loader resolves it
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil || !resolves(p.root, frag) {
		if ext {
			return false
		}
		p.errs = append(p.errs, fmt.Sprintf("%s: $ref %q does not resolve in the document", p.at(v), ref))
		return true
	}
	rewrite := func(from, to string) bool {
		if rest, ok := strings.CutPrefix(ref, from); ok {
			v.Value, p.changed = to+rest, true
			return true
		}
		return false
	}
	if rewrite("#/definitions/", "#/components/schemas/") || !ext {
		return true
	}
	if rewrite("#/responses/", "#/components/responses/") {
		return true
	}
	if rest, ok := strings.CutPrefix(ref, "#/parameters/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		if p.bodyParams[unescapePointer(name)] {
			rewrite("#/parameters/", "#/components/requestBodies/")
		} else {
			rewrite("#/parameters/", "#/components/parameters/")
		}
	}
	return true
}

// resolves reports whether the JSON pointer (RFC 6901) names a node of root.
func resolves(root *yaml.Node, pointer string) bool {
	if pointer == "" {
		return true
	}
	if !strings.HasPrefix(pointer, "/") {
		return false
	}
	n := root
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = unescapePointer(tok)
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return false
		}
		switch n.Kind {
		case yaml.MappingNode:
			n = mapGet(n, tok)
		case yaml.SequenceNode:
			i := 0
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(n.Content) || fmt.Sprint(i) != tok {
				return false
			}
			n = n.Content[i]
		default:
			return false
		}
	}
	return n != nil
}
