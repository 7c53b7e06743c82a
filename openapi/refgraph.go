package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi"
)

// ErrRefCycle is wrapped (with ErrInvalidSpec) by a load error for a
// document whose $refs loop without ever descending into the instance: a
// $ref chain that comes back to itself (A → B → A, for schemas, parameters,
// responses, path items or anything else), or a schema that reaches itself
// through $ref, allOf, anyOf, oneOf, not, if, then or else only. Such a
// document has no meaning (validating it never terminates) and would make
// the parser recurse until the process dies, so it is refused before the
// model is built. Recursion through properties, items and the other
// keywords that descend into the value (a tree node with children) is
// well-founded and accepted.
var ErrRefCycle = errors.New("$ref cycle")

// ErrTooLarge is wrapped (with ErrInvalidSpec) when a document exceeds the
// load budget (MaxSpecBytes, MaxSpecDepth, MaxSpecNodes).
var ErrTooLarge = errors.New("document exceeds the load budget")

// The load budget: a document beyond it is refused before anything
// recursive runs over it, so a hostile or broken spec costs an error, not
// the process. The real specs in ../shared/specs are far below: 3 MB and
// 0.30 M nodes (OpenAI), 2,900 files and 0.9 M nodes (DigitalOcean); their
// deepest nesting is under 40 levels.
const (
	// MaxSpecBytes bounds the root document's size.
	MaxSpecBytes = 64 << 20
	// MaxSpecDepth bounds YAML nesting (maps and sequences) in any file.
	MaxSpecDepth = 1000
	// MaxSpecNodes bounds the YAML nodes over all files of the document.
	MaxSpecNodes = 20_000_000
)

// sameInstance lists the schema keywords whose subschemas apply to the same
// instance as the schema itself: a loop made only of these and $ref never
// terminates.
var sameInstanceSeq = []string{"allOf", "anyOf", "oneOf"}
var sameInstanceMap = []string{"not", "if", "then", "else"}

type refFile struct {
	abs  string
	root *yaml.Node // the content node (not the DocumentNode)
}

type refGraph struct {
	files   map[string]*refFile
	rootAbs string
	name    string // the root's display name (Spec.Path)
	state   map[*yaml.Node]uint8
	where   map[*yaml.Node]vertex
}

type vertex struct {
	file *refFile
	ptr  string
}

const (
	white uint8 = iota
	grey
	black
)

// checkDocument enforces the load budget and refuses $ref cycles that do
// not descend into the instance. name is the root file's display name and
// rootAbs its absolute path ("" for bytes).
//
// It runs twice: after libopenapi has parsed the root file and before
// BuildV3Model, whose recursive ref lookup has no cycle guard within one
// file (the stack overflow that killed running gateways); libopenapi loads
// the other files of a multi-file spec only inside BuildV3Model (its rolodex
// guards cross-file chains, see testdata/regress/xfile), so a second run
// after it covers every file before anything of gatehouse recurses over
// the model.
func checkDocument(doc libopenapi.Document, name, rootAbs string) error {
	info := doc.GetSpecInfo()
	if info == nil || info.RootNode == nil {
		return nil
	}
	g := &refGraph{files: map[string]*refFile{}, name: name, state: map[*yaml.Node]uint8{}, where: map[*yaml.Node]vertex{}}
	root := contentNode(info.RootNode)
	var order []*refFile
	if rx := doc.GetRolodex(); rx != nil {
		if ri := rx.GetRootIndex(); ri != nil {
			g.rootAbs = ri.GetSpecAbsolutePath()
		}
		for _, idx := range rx.GetIndexes() {
			if idx == nil || idx.GetRootNode() == nil {
				continue
			}
			abs := idx.GetSpecAbsolutePath()
			if _, dup := g.files[abs]; dup || abs == g.rootAbs {
				continue
			}
			f := &refFile{abs: abs, root: contentNode(idx.GetRootNode())}
			g.files[abs] = f
			order = append(order, f)
		}
	}
	if g.rootAbs == "" {
		g.rootAbs = rootAbs
	}
	rf := &refFile{abs: g.rootAbs, root: root}
	g.files[g.rootAbs] = rf
	order = append([]*refFile{rf}, order...)

	nodes := 0
	var sites []vertexAt
	for _, f := range order {
		n, s, err := g.scan(f, MaxSpecNodes-nodes)
		if err != nil {
			return err
		}
		nodes += n
		sites = append(sites, s...)
	}
	for _, s := range sites {
		if g.state[s.node] != white {
			continue
		}
		if err := g.dfs(s); err != nil {
			return err
		}
	}
	return nil
}

type vertexAt struct {
	node *yaml.Node
	v    vertex
}

func contentNode(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

// scan walks one file iteratively: it counts nodes, bounds the depth, and
// returns the mapping nodes that carry a $ref or a same-instance keyword
// (the vertices the cycle search starts from), with their JSON pointers.
func (g *refGraph) scan(f *refFile, budget int) (int, []vertexAt, error) {
	// Paths are parent-linked tokens, materialized only for the vertices:
	// building a pointer string per node cost 190 MB on a 2,900-file spec.
	type pathTok struct {
		parent *pathTok
		tok    string
	}
	type item struct {
		n     *yaml.Node
		depth int
		path  *pathTok
	}
	ptrOf := func(p *pathTok) string {
		var toks []string
		for ; p != nil; p = p.parent {
			toks = append(toks, p.tok)
		}
		var b strings.Builder
		for i := len(toks) - 1; i >= 0; i-- {
			b.WriteByte('/')
			b.WriteString(toks[i])
		}
		return b.String()
	}
	var sites []vertexAt
	stack := []item{{f.root, 0, nil}}
	count := 0
	push := func(c *yaml.Node, depth int, parent *pathTok, tok string) {
		count++
		if c != nil && (c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode) {
			stack = append(stack, item{c, depth, &pathTok{parent, tok}})
		}
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.n
		if count > budget {
			return count, nil, fmt.Errorf("%w: more than %d YAML nodes", ErrTooLarge, MaxSpecNodes)
		}
		if it.depth > MaxSpecDepth {
			return count, nil, fmt.Errorf("%w: %s: nesting deeper than %d levels", ErrTooLarge, g.at(f, n), MaxSpecDepth)
		}
		switch n.Kind {
		case yaml.MappingNode:
			site := false
			// children pushed last-first so that they are visited in document order
			for i := len(n.Content) - 2; i >= 0; i -= 2 {
				k := n.Content[i].Value
				if k == "$ref" || isSameInstanceKey(k) {
					site = true
				}
				count++ // the key
				push(n.Content[i+1], it.depth+1, it.path, escapePointer(k))
			}
			if site {
				v := vertex{file: f, ptr: ptrOf(it.path)}
				sites = append(sites, vertexAt{n, v})
				g.where[n] = v
			}
		case yaml.SequenceNode:
			for i := len(n.Content) - 1; i >= 0; i-- {
				push(n.Content[i], it.depth+1, it.path, strconv.Itoa(i))
			}
		}
	}
	return count, sites, nil
}

func isSameInstanceKey(k string) bool {
	for _, s := range sameInstanceSeq {
		if k == s {
			return true
		}
	}
	for _, s := range sameInstanceMap {
		if k == s {
			return true
		}
	}
	return false
}

type edge struct {
	to    *yaml.Node
	v     vertex
	refAt *yaml.Node // the $ref value node, for the error position
}

// edges returns the same-instance successors of a mapping node: its $ref
// target, and its allOf/anyOf/oneOf elements and not/if/then/else values.
func (g *refGraph) edges(n *yaml.Node, v vertex) []edge {
	var out []edge
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i].Value, n.Content[i+1]
		switch {
		case k == "$ref" && val.Kind == yaml.ScalarNode:
			if to, tv, ok := g.resolve(v.file, val.Value, 0); ok && to.Kind == yaml.MappingNode {
				out = append(out, edge{to: to, v: tv, refAt: val})
			}
		case val.Kind == yaml.SequenceNode && (k == "allOf" || k == "anyOf" || k == "oneOf"):
			for j, c := range val.Content {
				if c.Kind == yaml.MappingNode {
					out = append(out, edge{to: c, v: vertex{v.file, v.ptr + "/" + k + "/" + strconv.Itoa(j)}})
				}
			}
		case val.Kind == yaml.MappingNode && (k == "not" || k == "if" || k == "then" || k == "else"):
			out = append(out, edge{to: val, v: vertex{v.file, v.ptr + "/" + k}})
		}
	}
	return out
}

// dfs searches for a cycle from s, iteratively (a long chain of refs must
// not recurse either).
func (g *refGraph) dfs(s vertexAt) error {
	type frame struct {
		n     *yaml.Node
		v     vertex
		refAt *yaml.Node
		out   []edge
		next  int
	}
	stack := []*frame{{n: s.node, v: s.v}}
	stack[0].out = g.edges(s.node, s.v)
	g.state[s.node] = grey
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		if top.next >= len(top.out) {
			g.state[top.n] = black
			stack = stack[:len(stack)-1]
			continue
		}
		e := top.out[top.next]
		top.next++
		if w, ok := g.where[e.to]; ok {
			e.v = w // the node's own pointer, not the path we came by
		}
		switch g.state[e.to] {
		case grey:
			// cycle: from the frame holding e.to to top, then back to it
			i := len(stack) - 1
			for i > 0 && stack[i].n != e.to {
				i--
			}
			var names []string
			for _, f := range stack[i:] {
				names = append(names, g.display(f.v))
			}
			names = append(names, g.display(e.v))
			at := e.refAt
			if at == nil {
				at = e.to
			}
			return fmt.Errorf("%w: %s at %s", ErrRefCycle, strings.Join(names, " → "), g.at(top.v.file, at))
		case white:
			g.state[e.to] = grey
			stack = append(stack, &frame{n: e.to, v: e.v, refAt: e.refAt, out: g.edges(e.to, e.v)})
		}
	}
	return nil
}

// resolve finds the node a $ref points at: "#/ptr" in the same file, or
// "rel/file.yaml#/ptr" among the files libopenapi loaded. Remote and unknown
// files are not followed (libopenapi reports those).
func (g *refGraph) resolve(from *refFile, ref string, hops int) (*yaml.Node, vertex, bool) {
	if hops > 64 {
		return nil, vertex{}, false
	}
	file, frag, _ := strings.Cut(ref, "#")
	f := from
	if file != "" {
		if strings.Contains(file, "://") {
			return nil, vertex{}, false
		}
		base := filepath.Dir(from.abs)
		abs := filepath.Clean(filepath.Join(base, filepath.FromSlash(file)))
		if filepath.IsAbs(file) {
			abs = filepath.Clean(file)
		}
		var ok bool
		if f, ok = g.files[abs]; !ok {
			return nil, vertex{}, false
		}
	}
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	n := f.root
	toks := splitPointer(frag)
	for i, tok := range toks {
		tok = unescapePointer(tok)
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil, vertex{}, false
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			var via string
			for j := 0; j+1 < len(n.Content); j += 2 {
				switch n.Content[j].Value {
				case tok:
					next = n.Content[j+1]
				case "$ref":
					via = n.Content[j+1].Value
				}
			}
			if next == nil && via != "" {
				// the pointer continues inside a referenced node
				_, tv, ok := g.resolve(f, via, hops+1)
				if !ok {
					return nil, vertex{}, false
				}
				rest := strings.Join(toks[i:], "/")
				return g.resolve(tv.file, "#"+tv.ptr+"/"+rest, hops+1)
			}
			n = next
		case yaml.SequenceNode:
			k, err := strconv.Atoi(tok)
			if err != nil || k < 0 || k >= len(n.Content) {
				return nil, vertex{}, false
			}
			n = n.Content[k]
		default:
			return nil, vertex{}, false
		}
		if n == nil {
			return nil, vertex{}, false
		}
	}
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil, vertex{}, false
	}
	ptr := ""
	if len(toks) > 0 {
		ptr = "/" + strings.Join(toks, "/")
	}
	return n, vertex{file: f, ptr: ptr}, true
}

// display names a vertex: "#/components/schemas/A" in the root file,
// "file.yaml#/ptr" in another one.
func (g *refGraph) display(v vertex) string {
	if v.file == nil || v.file.abs == g.rootAbs {
		return "#" + v.ptr
	}
	return g.rel(v.file.abs) + "#" + v.ptr
}

func (g *refGraph) rel(abs string) string {
	if g.rootAbs != "" {
		if r, err := filepath.Rel(filepath.Dir(g.rootAbs), abs); err == nil {
			return filepath.ToSlash(r)
		}
	}
	return abs
}

// at formats FILE:LINE:COL of a node.
func (g *refGraph) at(f *refFile, n *yaml.Node) string {
	name := g.name
	if f != nil && f.abs != g.rootAbs {
		name = g.rel(f.abs)
	}
	return fmt.Sprintf("%s:%d:%d", name, n.Line, n.Column)
}
