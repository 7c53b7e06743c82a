package openapi

import (
	"context"
	"iter"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	"github.com/pb33f/libopenapi/datamodel/low"
	lowbase "github.com/pb33f/libopenapi/datamodel/low/base"
	"github.com/pb33f/libopenapi/index"
)

// Properties yields the properties of s as JSON Schema (and the gateway's
// validator and response filter) read them, correcting two libopenapi
// misreadings of real specs:
//   - "properties: {$ref: X}" (a map of properties kept elsewhere, as
//     DigitalOcean writes its load balancers) is read by libopenapi as one
//     property named "$ref": Properties yields the referenced properties.
//   - a property written as a $ref with sibling keywords ({description,
//     $ref}) renders in libopenapi as the siblings alone, an unconstrained
//     schema: Properties yields a proxy of the reference.
//
// Every reader of a schema's properties in the scanner and the auditor
// goes through it. A nil s (or one without properties) yields nothing.
func Properties(s *base.Schema) iter.Seq2[string, *base.SchemaProxy] {
	return func(yield func(string, *base.SchemaProxy) bool) {
		if s == nil || s.Properties == nil {
			return
		}
		for k, p := range s.Properties.FromOldest() {
			lp := p.GoLow()
			if k == "$ref" && lp != nil && lp.GetValueNode() != nil && lp.GetValueNode().Kind == yaml.ScalarNode {
				for name, rp := range refProperties(lp) {
					if !yield(name, rp) {
						return
					}
				}
				continue
			}
			if lp != nil && p.IsTransformedRefWithSiblings() && p.GetReference() != "" && !hasAllOf(p) {
				if rp := proxyOf(lp.GetContext(), lp.GetIndex(), lp.GetKeyNode(), refNode(p.GetReference())); rp != nil {
					p = rp
				}
			}
			if !yield(k, p) {
				return
			}
		}
	}
}

// hasAllOf reports whether libopenapi rendered p's $ref-with-siblings as
// the allOf it stands for (then p is read right).
func hasAllOf(p *base.SchemaProxy) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s := p.Schema()
	return s != nil && len(s.AllOf) > 0
}

// refProperties resolves the map of properties a "properties: {$ref}"
// names, a proxy for each.
func refProperties(lp *lowbase.SchemaProxy) iter.Seq2[string, *base.SchemaProxy] {
	return func(yield func(string, *base.SchemaProxy) bool) {
		var n *yaml.Node
		var idx *index.SpecIndex
		var ctx context.Context
		func() {
			defer func() { _ = recover() }() // a broken reference yields no property
			var err error
			n, idx, err, ctx = low.LocateRefNodeWithContext(lp.GetContext(), refNode(lp.GetValueNode().Value), lp.GetIndex())
			if err != nil {
				n = nil
			}
		}()
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p := proxyOf(ctx, idx, n.Content[i], n.Content[i+1]); p != nil {
				if !yield(n.Content[i].Value, p) {
					return
				}
			}
		}
	}
}

// proxyOf builds a schema proxy for the YAML node n of index idx, as
// libopenapi builds a child schema's (nil if it cannot).
func proxyOf(ctx context.Context, idx *index.SpecIndex, key, n *yaml.Node) (p *base.SchemaProxy) {
	defer func() {
		if recover() != nil {
			p = nil
		}
	}()
	np := new(lowbase.SchemaProxy)
	if np.Build(ctx, key, n, idx) != nil {
		return nil
	}
	return base.NewSchemaProxy(&low.NodeReference[*lowbase.SchemaProxy]{Value: np, KeyNode: key, ValueNode: n})
}

func refNode(ref string) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "$ref"},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: ref},
	}}
}
