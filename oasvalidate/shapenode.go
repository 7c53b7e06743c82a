package oasvalidate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/jsonschema/v6"
)

// Shapes are compiled from the document's YAML nodes, not from libopenapi's
// schema objects. Rendering a schema through libopenapi builds its whole
// low- and high-level model (ordered maps, child proxies, node maps) to
// read a dozen keywords: on the 2,900-file DigitalOcean spec that was 53 MB
// of allocation for the request and response shapes, most of it garbage
// made while the whole document model was live, and it set the load's peak
// memory (issue 18). The YAML nodes are already in memory (SchemaSet reads
// the same trees), so a shape costs only itself.
//
// The result is the shape libopenapi's rendering gives (a test compares
// the two over every operation of the test specs and the shared real-world
// documents), including its reading of a $ref with sibling keywords: an
// allOf of the siblings and the reference.

// maxRefChain bounds a chain of $refs to $refs (a cycle is refused when
// the document loads; this only keeps a broken one from looping).
const maxRefChain = 64

// nodeAt compiles the schema at node n of file.
func (c *shapeCompiler) nodeAt(n *yaml.Node, file string) (*Shape, error) {
	n = unalias(n)
	if n == nil {
		return nil, nil
	}
	if s, ok := c.bySchema[n]; ok {
		return s, nil
	}
	if ref, siblings := refOf(n); ref != "" {
		if siblings {
			// libopenapi's reading (TransformSiblingRefs): allOf of the
			// siblings and the reference.
			s := c.newShape(n)
			sib := c.newShape(nil)
			if err := c.fillNode(sib, n, file); err != nil {
				return nil, err
			}
			t, err := c.ref(n, ref, file)
			if err != nil {
				return nil, err
			}
			s.allOf = []*Shape{sib, t}
			s.alts = []*Shape{sib, t}
			return s, nil
		}
		t, err := c.ref(n, ref, file)
		if err != nil {
			return nil, err
		}
		c.bySchema[n] = t
		return t, nil
	}
	s := c.newShape(n)
	return s, c.fillNode(s, n, file)
}

// ref compiles the target of the $ref ref at node n of file.
func (c *shapeCompiler) ref(n *yaml.Node, ref, file string) (*Shape, error) {
	tn, tfile := n, file
	for range maxRefChain {
		if f, _, _ := strings.Cut(ref, "#"); strings.Contains(f, "://") {
			// A remote reference is never fetched (libopenapi skips it
			// too): unconstrained.
			return c.newShape(nil), nil
		}
		var ok bool
		tn, tfile, ok = c.set.resolve(tfile, ref)
		if !ok {
			return nil, fmt.Errorf("build schema %q: reference cannot be found (at %s)", ref, c.set.locate(n, file))
		}
		tn = unalias(tn)
		next, siblings := refOf(tn)
		if next == "" || siblings {
			return c.nodeAt(tn, tfile)
		}
		ref = next
	}
	return nil, fmt.Errorf("build schema %q: a chain of more than %d references", ref, maxRefChain)
}

// newShape registers a new shape (under node n, when set) before it is
// filled, so that a schema reached again through a cycle finds it.
func (c *shapeCompiler) newShape(n *yaml.Node) *Shape {
	s := &Shape{}
	c.list = append(c.list, s)
	if n != nil {
		c.bySchema[n] = s
	}
	return s
}

// child compiles a subschema; a missing one is unconstrained.
func (c *shapeCompiler) child(n *yaml.Node, file string) (*Shape, error) {
	n = unalias(n)
	if n != nil && n.Kind != yaml.MappingNode && !isBool(n) {
		return nil, fmt.Errorf("build schema failed: expected a single schema object, but found %s at %s", n.ShortTag(), c.set.locate(n, file))
	}
	s, err := c.nodeAt(n, file)
	if err == nil && s == nil {
		s = c.newShape(nil)
	}
	return s, err
}

// fillNode is fill for the mapping (or boolean) node n of file; a $ref
// among n's keys is skipped (nodeAt handles it).
func (c *shapeCompiler) fillNode(s *Shape, n *yaml.Node, file string) error {
	if isBool(n) {
		if n.Value == "true" {
			s.addlOpen, s.declares = true, true
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("build schema failed: expected a schema object, but found %s at %s", n.ShortTag(), c.set.locate(n, file))
	}
	var allOf, anyOf, oneOf, then, els *yaml.Node
	var disc *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, unalias(n.Content[i+1])
		if v == nil {
			continue
		}
		switch k {
		case "pattern", "format":
			s.own = s.own || v.Kind == yaml.ScalarNode && v.Value != ""
		case "enum":
			s.own = s.own || v.Kind == yaml.SequenceNode && len(v.Content) > 0
		case "const":
			s.own = true
		case "readOnly":
			s.readOnly = v.Value == "true"
		case "writeOnly":
			s.writeOnly = v.Value == "true"
		case "type":
			s.types = nil // a type that is not a string (type: 0) is no type
			if v.Kind == yaml.SequenceNode {
				for _, t := range v.Content {
					if isString(t) {
						s.types = append(s.types, t.Value)
					}
				}
			} else if isString(v) && v.Value != "" {
				s.types = []string{v.Value}
			}
		case "x-gatehouse-shell":
			s.shell = v.Value == "true"
		case "x-gatehouse-path":
			s.path = v.Value == "true"
		case "x-gatehouse-identifier":
			switch v.Value {
			case "true":
				s.ident = 1
			case "false":
				s.ident = -1
			}
		case "maxLength":
			if m, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
				s.short = m <= ShortIdentifier
			}
		case "properties":
			if err := c.properties(s, v, file); err != nil {
				return err
			}
		case "patternProperties":
			if err := c.patternProperties(s, n, v, file); err != nil {
				return err
			}
		case "additionalProperties":
			s.declares = true
			if isBool(v) {
				s.addlOpen = s.addlOpen || v.Value == "true"
				continue
			}
			as, err := c.child(v, file)
			if err != nil {
				return err
			}
			s.addl, s.addlOpen = as, true
		case "items":
			if isBool(v) {
				continue
			}
			is, err := c.child(v, file)
			if err != nil {
				return err
			}
			s.items = is
		case "prefixItems":
			list, err := c.schemaList(v, file)
			if err != nil {
				return err
			}
			s.prefix = list
		case "allOf":
			allOf = v
		case "anyOf":
			anyOf = v
		case "oneOf":
			oneOf = v
		case "then":
			then = v
		case "else":
			els = v
		case "discriminator":
			disc = v
		}
	}
	for gi, group := range []*yaml.Node{allOf, anyOf, oneOf, nil} {
		var members []*Shape
		var nodes []*yaml.Node
		if gi == 3 {
			for _, x := range []*yaml.Node{then, els} {
				if x != nil {
					nodes = append(nodes, x)
				}
			}
		} else if group != nil {
			if group.Kind != yaml.SequenceNode {
				return fmt.Errorf("build schema failed: expected an array of schemas, but found %s at %s", group.ShortTag(), c.set.locate(group, file))
			}
			nodes = group.Content
		}
		for _, x := range nodes {
			as, err := c.child(x, file)
			if err != nil {
				return err
			}
			s.alts = append(s.alts, as)
			members = append(members, as)
		}
		c.addGroup(s, gi, members, func() *choiceGroup { return c.groupNode(disc, nodes, file, members, gi == 2) })
	}
	return nil
}

// properties fills s's declared properties from the properties node v
// (a $ref in its place is followed, as libopenapi does).
func (c *shapeCompiler) properties(s *Shape, v *yaml.Node, file string) error {
	v, file = c.refMap(v, file)
	if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
		return nil
	}
	s.declares = true
	s.props = make(map[string]*Shape, len(v.Content)/2)
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i].Value
		ps, err := c.child(v.Content[i+1], file)
		if err != nil {
			return fmt.Errorf("property %q: %w", k, err)
		}
		s.props[k] = ps
	}
	return nil
}

// patternProperties fills s's patterns from the patternProperties node v
// of the schema node n; a regexp no engine compiles is skipped and
// reported (SchemaSet.SkipPattern), as validation does.
func (c *shapeCompiler) patternProperties(s *Shape, n, v *yaml.Node, file string) error {
	v, vfile := c.refMap(v, file)
	if v.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		re, err := CompilePattern(v.Content[i].Value) // the ECMA-262 dialect, as validation
		if err != nil {
			c.set.SkipPattern(n, file, "patternProperties", v.Content[i].Value, err)
			continue
		}
		ps, err := c.child(v.Content[i+1], vfile)
		if err != nil {
			return err
		}
		s.patterns = append(s.patterns, patternShape{re: re, s: ps})
		s.declares = true
	}
	return nil
}

// refMap follows a lone $ref standing for a map of schemas.
func (c *shapeCompiler) refMap(v *yaml.Node, file string) (*yaml.Node, string) {
	if ref, siblings := refOf(v); ref != "" && !siblings {
		if tn, tfile, ok := c.set.resolve(file, ref); ok && unalias(tn) != nil {
			return unalias(tn), tfile
		}
	}
	return v, file
}

func (c *shapeCompiler) schemaList(v *yaml.Node, file string) ([]*Shape, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("build schema failed: expected an array of schemas, but found %s at %s", v.ShortTag(), c.set.locate(v, file))
	}
	out := make([]*Shape, 0, len(v.Content))
	for _, x := range v.Content {
		s, err := c.child(x, file)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// groupNode is group for the branch nodes of one anyOf/oneOf of file, with
// the discriminator node disc (nil: none) declared beside it.
func (c *shapeCompiler) groupNode(disc *yaml.Node, nodes []*yaml.Node, file string, members []*Shape, oneOf bool) *choiceGroup {
	g := &choiceGroup{oneOf: oneOf, branches: members}
	refs := make([]string, len(nodes))
	for i, x := range nodes {
		refs[i], _ = refOf(unalias(x)) // a $ref with siblings names its target too
	}
	if prop := mapValue(disc, "propertyName"); prop != nil && prop.Value != "" {
		var mapping [][2]string
		if m := mapValue(disc, "mapping"); m != nil && m.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(m.Content); i += 2 {
				mapping = append(mapping, [2]string{m.Content[i].Value, m.Content[i+1].Value})
			}
		}
		g.discProp, g.disc = prop.Value, discriminate(mapping, refs)
		return g
	}
	g.valid = make([]*jsonschema.Schema, len(nodes))
	for i, x := range nodes {
		if v, err := c.opts.Branches.CompileNode(unalias(x), file, c.opts.Purpose); err == nil {
			g.valid[i] = v
		}
	}
	return g
}

// discriminate maps discriminator values to branch indexes: the explicit
// mapping first, then each $ref branch's schema name (refs[i] is branch
// i's $ref, "" for an inline branch).
func discriminate(mapping [][2]string, refs []string) map[string]int {
	name := func(ref string) string { return ref[strings.LastIndexByte(ref, '/')+1:] }
	disc := map[string]int{}
	for _, m := range mapping {
		for i, ref := range refs {
			if ref != "" && (ref == m[1] || name(ref) == name(m[1])) {
				disc[m[0]] = i
				break
			}
		}
	}
	for i, ref := range refs {
		if ref != "" {
			if _, ok := disc[name(ref)]; !ok {
				disc[name(ref)] = i
			}
		}
	}
	return disc
}

// refOf returns the $ref of the mapping node n ("" if none) and whether it
// has sibling keywords.
func refOf(n *yaml.Node) (ref string, siblings bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "$ref" && n.Content[i+1].Kind == yaml.ScalarNode {
			ref = n.Content[i+1].Value
		}
	}
	return ref, ref != "" && len(n.Content) > 2
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = unalias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return unalias(n.Content[i+1])
		}
	}
	return nil
}

func unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxRefChain; i++ {
		n = n.Alias
	}
	return n
}

// isString reports whether n is a string scalar (type: 0 is not). The
// parser sets every node's tag ("!!str"); a node built in memory without
// one is a string.
func isString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "" || tagIs(n, "!!str"))
}

func isBool(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && tagIs(n, "!!bool")
}

// tagIs compares n's tag with a short tag ("!!bool"), reading a long one
// ("tag:yaml.org,2002:bool") too.
func tagIs(n *yaml.Node, short string) bool {
	return n.Tag == short || strings.HasPrefix(n.Tag, "tag:") && n.ShortTag() == short
}
