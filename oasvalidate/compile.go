package oasvalidate

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/index"
)

// Purpose is the direction a schema is compiled for: readOnly properties
// are not required in requests, writeOnly ones not in responses (OAS 3.x).
type Purpose int

const (
	// PurposeGeneric applies no directional rule (parameters).
	PurposeGeneric Purpose = iota
	// PurposeRequest drops readOnly properties from required lists.
	PurposeRequest
	// PurposeResponse drops writeOnly properties from required lists.
	PurposeResponse
)

// SchemaSet compiles the JSON Schemas of one OpenAPI document, each
// distinct schema once: every file of the document is converted once per
// direction into one JSON Schema resource, and an operation's schema is
// compiled as a reference into it, so a component shared by many operations
// and statuses is compiled (and kept in memory) once. This replaces
// rendering each operation's schema inline with every $ref expanded, whose
// cost grew with operations × reachable schema size (80-105 s and 900 MiB on
// a 1.1 MiB spec).
//
// OpenAPI 3.0 keywords are translated to JSON Schema 2020-12 (nullable,
// boolean exclusiveMinimum/Maximum; $ref siblings are ignored as OAS 3.0
// says). In 3.1 documents the same 3.0 leftovers and duplicate required
// items are honoured with their 3.0 meaning and reported in Warnings
// instead of refusing the document. A SchemaSet is safe for concurrent use.
type SchemaSet struct {
	v30        bool
	rootURL    string
	rootDir    string
	files      map[string]*yaml.Node // absolute path → content node
	mu         sync.Mutex
	comp       [3]*jsonschema.Compiler
	byNode     [3]map[*yaml.Node]*jsonschema.Schema
	inline     int
	warned     map[*yaml.Node]bool
	warns      []string
	regexps    RegexpEngine
	meta       *jsonschema.Schema // the 2020-12 metaschema (checkComponents)
	checked    map[string]bool    // file URLs whose components were checked
	pats       map[string]patternEntry
	skipped    []string // located warnings of the patterns no engine compiles
	skippedKey map[string]bool
}

// RegexpEngine compiles `pattern` and `patternProperties` regexps (nil: Go's
// regexp, RE2).
type RegexpEngine = jsonschema.RegexpEngine

// schemaSets maps a document to its SchemaSet. The key is a weak pointer so
// that the map does not keep the document alive: the entry is removed when
// the document is collected (after a reload swapped it out). It was the
// document's address (uintptr) once: a new document allocated at a collected
// one's address before the cleanup ran got the old document's SchemaSet,
// whose files are another spec's ("not a file of the spec", seen in CI). A
// weak pointer made from a new object never equals one to a reclaimed object.
var schemaSets sync.Map // weak.Pointer[v3.Document] → *SchemaSet

// SchemasFor returns the SchemaSet of doc, built on first use and shared by
// every caller with the same document (request validator and response
// filter compile each schema once between them).
func SchemasFor(doc *v3.Document) *SchemaSet {
	key := weak.Make(doc)
	if s, ok := schemaSets.Load(key); ok {
		return s.(*SchemaSet)
	}
	s, loaded := schemaSets.LoadOrStore(key, NewSchemaSet(doc))
	if !loaded && doc != nil {
		runtime.AddCleanup(doc, func(k weak.Pointer[v3.Document]) { schemaSets.Delete(k) }, key)
	}
	return s.(*SchemaSet)
}

// NewSchemaSet prepares the compilation of doc's schemas (nothing is
// compiled until Compile is called).
func NewSchemaSet(doc *v3.Document) *SchemaSet {
	s := &SchemaSet{files: map[string]*yaml.Node{}, warned: map[*yaml.Node]bool{}, pats: map[string]patternEntry{}, skippedKey: map[string]bool{}}
	s.regexps = s.pattern
	s.v30 = doc != nil && len(doc.Version) >= 3 && doc.Version[:3] == "3.0"
	for i := range s.byNode {
		s.byNode[i] = map[*yaml.Node]*jsonschema.Schema{}
	}
	if doc == nil {
		return s
	}
	add := func(idx *index.SpecIndex) {
		if idx == nil || idx.GetRootNode() == nil {
			return
		}
		p := absKey(idx.GetSpecAbsolutePath())
		if _, dup := s.files[p]; !dup {
			s.files[p] = contentNode(idx.GetRootNode())
		}
	}
	if doc.Index != nil {
		add(doc.Index)
		s.rootURL = fileURL(absKey(doc.Index.GetSpecAbsolutePath()))
		s.rootDir = filepath.Dir(absKey(doc.Index.GetSpecAbsolutePath()))
	}
	if doc.Rolodex != nil {
		add(doc.Rolodex.GetRootIndex())
		for _, idx := range doc.Rolodex.GetIndexes() {
			add(idx)
		}
	}
	return s
}

type patternEntry struct {
	re  jsonschema.Regexp
	err error
}

// pattern is the SchemaSet's regexp engine: CompilePattern, each pattern
// compiled once (called with s.mu held, from Compile and its loader).
func (s *SchemaSet) pattern(p string) (jsonschema.Regexp, error) {
	if e, ok := s.pats[p]; ok {
		return e.re, e.err
	}
	re, err := CompilePattern(p)
	s.pats[p] = patternEntry{re, err}
	return re, err
}

// SkippedPatterns lists the `pattern` and `patternProperties` regexps that
// no engine compiles, each "file:line:col: ..." (also in Warnings). Each one
// skips that one constraint; the gateway refuses the document instead when
// spec_strict_patterns is set. Like Warnings, it covers the schemas
// compiled so far (after the gateway's Build: every schema of the spec).
func (s *SchemaSet) SkippedPatterns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.skipped)
}

// Warnings lists the 3.0 leftovers and redundancies met so far, each
// "file:line:col: ..." (a schema is looked at when it is first compiled).
func (s *SchemaSet) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warns)
}

func contentNode(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

// absKey makes the path of a file of the spec absolute and clean, the key
// of SchemaSet.files (libopenapi names an in-memory root "root.yaml").
func absKey(p string) string {
	if !filepath.IsAbs(p) {
		p = string(filepath.Separator) + p
	}
	return filepath.Clean(p)
}

func fileURL(p string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

type setLoader struct {
	s       *SchemaSet
	purpose Purpose
}

func (l setLoader) Load(u string) (any, error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "file" {
		return nil, fmt.Errorf("schema %q: only the spec's own files are loaded", u)
	}
	n, ok := l.s.files[filepath.FromSlash(pu.Path)]
	if !ok {
		return nil, fmt.Errorf("schema %q: not a file of the spec", u)
	}
	doc := l.s.convert(n, filepath.FromSlash(pu.Path), l.purpose, "")
	if err := l.s.checkComponents(doc, u); err != nil {
		return nil, err
	}
	return doc, nil
}

// componentSchemas is a vocabulary that only declares where an OpenAPI
// document keeps its named schemas. Registered on the compilers, it makes
// jsonschema collect every components/schemas entry of a file when the file
// is first loaded: without it, each newly referenced component made
// jsonschema clone the file's table of processed subschemas (quadratic:
// 130 MB of garbage and a third of the CPU of loading the OpenAI spec).
// jsonschema no longer checks each of those schemas against the 2020-12
// metaschema on first reference, so checkComponents does, once per file.
var componentSchemas = &jsonschema.Vocabulary{
	URL: "urn:gatehouse:openapi-components",
	Subschemas: []jsonschema.SchemaPath{
		{jsonschema.Prop("components"), jsonschema.Prop("schemas"), jsonschema.AllProp{}},
	},
	Compile: func(*jsonschema.CompilerContext, map[string]any) (jsonschema.SchemaExt, error) { return nil, nil },
}

// checkComponents validates each components/schemas entry of a converted
// file against the JSON Schema 2020-12 metaschema (see componentSchemas).
func (s *SchemaSet) checkComponents(doc any, u string) error {
	root, _ := doc.(map[string]any)
	comps, _ := root["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if len(schemas) == 0 || s.checked[u] {
		return nil // the same file is loaded once per Purpose; checked once
	}
	if s.meta == nil {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if s.regexps != nil {
			c.UseRegexpEngine(s.regexps)
		}
		meta, err := c.Compile("https://json-schema.org/draft/2020-12/schema")
		if err != nil {
			return fmt.Errorf("compile the 2020-12 metaschema: %w", err)
		}
		s.meta = meta
	}
	names := slices.Sorted(maps.Keys(schemas))
	for _, name := range names {
		if err := s.meta.Validate(schemas[name]); err != nil {
			return fmt.Errorf("%s#/components/schemas/%s is not a valid schema: %w", u, escapeToken(name), err)
		}
	}
	if s.checked == nil {
		s.checked = map[string]bool{}
	}
	s.checked[u] = true
	return nil
}

func (s *SchemaSet) compiler(p Purpose) *jsonschema.Compiler {
	if c := s.comp[p]; c != nil {
		return c
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(setLoader{s: s, purpose: p})
	c.RegisterVocabulary(componentSchemas)
	if s.regexps != nil {
		c.UseRegexpEngine(s.regexps)
	}
	s.comp[p] = c
	return c
}

// Compile compiles the schema behind proxy for purpose (nil proxy: nil).
// A $ref compiles its target's location in the document; an inline schema
// is compiled on its own with its $refs pointing into the document.
func (s *SchemaSet) Compile(proxy *base.SchemaProxy, p Purpose) (*jsonschema.Schema, error) {
	if proxy == nil || proxy.GoLow() == nil {
		return nil, nil
	}
	low := proxy.GoLow()
	n := low.GetValueNode()
	if n == nil {
		return nil, nil
	}
	file := ""
	if idx := low.GetIndex(); idx != nil {
		file = absKey(idx.GetSpecAbsolutePath())
	}
	src := n
	if s.v30 && low.IsTransformedRefWithSiblings() {
		src = refOnly(low.GetTransformedRefReference())
	}
	return s.compile(n, src, file, p)
}

// CompileNode is Compile for the schema at YAML node n of the document's
// file (an absolute path); a 3.0 $ref ignores its siblings.
func (s *SchemaSet) CompileNode(n *yaml.Node, file string, p Purpose) (*jsonschema.Schema, error) {
	if n == nil {
		return nil, nil
	}
	src := n
	if ref, siblings := refOf(n); s.v30 && siblings {
		src = refOnly(ref)
	}
	return s.compile(n, src, file, p)
}

// compile compiles src (the schema at node n of file, or what stands for
// it), memoized by n.
func (s *SchemaSet) compile(n, src *yaml.Node, file string, p Purpose) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.byNode[p][n]; ok {
		return sch, nil
	}
	c := s.compiler(p)
	s.inline++
	loc := "gatehouse:inline/" + strconv.Itoa(s.inline) + ".json"
	if err := c.AddResource(loc, s.convert(src, file, p, fileURL(file))); err != nil {
		return nil, err
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("JSON schema compile failed: %w", err)
	}
	s.byNode[p][n] = sch
	return sch, nil
}

// refOnly is the node compiled for a 3.0 $ref with siblings, which
// libopenapi turns into an allOf of the target and the siblings: OAS 3.0
// says the siblings SHALL be ignored.
func refOnly(ref string) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "$ref"},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: ref},
	}}
}

// convert turns a YAML node into the JSON value jsonschema expects,
// translating OpenAPI keywords on the way. base, when set, makes every
// $ref absolute against it (for inline schemas compiled on their own).
func (s *SchemaSet) convert(n *yaml.Node, file string, p Purpose, base string) any {
	var baseURL *url.URL
	if base != "" {
		baseURL, _ = url.Parse(base)
	}
	cv := &converter{s: s, p: p, whole: base == ""}
	return cv.conv(n, file, baseURL, 0)
}

type converter struct {
	s      *SchemaSet
	p      Purpose
	whole  bool     // converting a whole file (pointers are meaningful)
	path   []string // JSON pointer tokens of the node being converted
	anchor []string // pointers of enclosing $recursiveAnchor: true schemas
}

// refMaps are keywords whose value is a map or list, not a schema: a $ref
// in their place (libopenapi resolves it) is replaced by its target.
var refMaps = map[string]bool{"properties": true, "patternProperties": true, "$defs": true,
	"definitions": true, "dependentSchemas": true, "required": true, "enum": true}

func (cv *converter) conv(n *yaml.Node, file string, base *url.URL, depth int) any {
	s := cv.s
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || depth > 2000 {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return cv.conv(n.Content[0], file, base, depth+1)
		}
		return nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			cv.path = append(cv.path, strconv.Itoa(i))
			out = append(out, cv.conv(c, file, base, depth+1))
			cv.path = cv.path[:len(cv.path)-1]
		}
		return out
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		anchored := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "$recursiveAnchor" && n.Content[i+1].Value == "true" {
				anchored = true
				cv.anchor = append(cv.anchor, "/"+joinPointer(cv.path))
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch {
			case k == "$ref" && base != nil && v.Kind == yaml.ScalarNode:
				if r, err := base.Parse(v.Value); err == nil {
					m[k] = r.String()
					continue
				}
			case k == "$recursiveAnchor":
				continue // draft 2019-09; its $recursiveRef is rewritten below
			case k == "$recursiveRef":
				// draft 2019-09 (the OpenAI spec uses it): a plain $ref to the
				// enclosing $recursiveAnchor schema; without one, unconstrained.
				if len(cv.anchor) > 0 && cv.whole && v.Value == "#" {
					m["$ref"] = "#" + cv.anchor[len(cv.anchor)-1]
				}
				continue
			case refMaps[k] && v.Kind == yaml.MappingNode && len(v.Content) == 2 && v.Content[0].Value == "$ref":
				if tn, tfile, ok := s.resolve(file, v.Content[1].Value); ok {
					tb := base
					if tfile != file {
						tb, _ = url.Parse(fileURL(tfile))
					}
					cv.path = append(cv.path, escapeToken(k))
					m[k] = cv.conv(tn, tfile, tb, depth+1)
					cv.path = cv.path[:len(cv.path)-1]
					continue
				}
			}
			cv.path = append(cv.path, escapeToken(k))
			m[k] = cv.conv(v, file, base, depth+1)
			cv.path = cv.path[:len(cv.path)-1]
		}
		if anchored {
			cv.anchor = cv.anchor[:len(cv.anchor)-1]
		}
		s.fixSchema(m, n, file, cv.p)
		return m
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return tokenEscaper.Replace(t)
}

var (
	tokenEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
	tokenUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

func joinPointer(toks []string) string { return strings.Join(toks, "/") }

// resolve finds the node a $ref in file points at (files of the spec only).
func (s *SchemaSet) resolve(file, ref string) (*yaml.Node, string, bool) {
	f, frag, _ := strings.Cut(ref, "#")
	if f != "" {
		if strings.Contains(f, "://") {
			return nil, "", false
		}
		file = filepath.Clean(filepath.Join(filepath.Dir(file), filepath.FromSlash(f)))
	}
	n, ok := s.files[file]
	if !ok {
		return nil, "", false
	}
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		if strings.Contains(tok, "~") {
			tok = tokenUnescaper.Replace(tok)
		}
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil, "", false
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil, "", false
		}
		n = next
	}
	return n, file, true
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int", "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if n.ShortTag() == "!!int" {
				var i int64
				if n.Decode(&i) == nil {
					return json.Number(strconv.FormatInt(i, 10))
				}
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return n.Value
}

// fixSchema translates one mapping that may be a schema. The keywords
// looked at only have these meanings in a schema (a properties map has
// schema values, never booleans or string lists).
func (s *SchemaSet) fixSchema(m map[string]any, n *yaml.Node, file string, p Purpose) {
	if _, isRef := m["$ref"]; isRef && s.v30 {
		// OAS 3.0: "This object cannot be extended with additional
		// properties and any properties added SHALL be ignored."
		for k := range m {
			if k != "$ref" {
				delete(m, k)
			}
		}
		return
	}
	if nb, ok := m["nullable"].(bool); ok {
		delete(m, "nullable")
		if !s.v30 {
			s.warn(n, file, "nullable is OpenAPI 3.0; honoured as type null")
		}
		if nb {
			switch t := m["type"].(type) {
			case string:
				m["type"] = []any{t, "null"}
			case []any:
				if !slices.Contains(t, any("null")) {
					m["type"] = append(t, "null")
				}
			}
			if e, ok := m["enum"].([]any); ok && !slices.Contains(e, nil) {
				m["enum"] = append(e, nil)
			}
		}
	}
	for _, kw := range [...][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
		if b, ok := m[kw[0]].(bool); ok {
			if !s.v30 {
				s.warn(n, file, kw[0]+": boolean is OpenAPI 3.0; honoured with its 3.0 meaning")
			}
			delete(m, kw[0])
			if lim, ok := m[kw[1]]; ok && b {
				m[kw[0]] = lim
				delete(m, kw[1])
			}
		}
	}
	s.fixPatterns(m, n, file)
	if req, ok := m["required"].([]any); ok {
		seen := map[any]bool{}
		out := req[:0:0]
		for _, r := range req {
			if seen[r] {
				s.warn(n, file, fmt.Sprintf("required lists %v more than once", r))
				continue
			}
			seen[r] = true
			out = append(out, r)
		}
		if p != PurposeGeneric {
			if props, ok := m["properties"].(map[string]any); ok {
				kept := out[:0:0]
				for _, r := range out {
					name, _ := r.(string)
					if ps, ok := props[name].(map[string]any); ok && directional(ps, p) {
						continue
					}
					kept = append(kept, r)
				}
				out = kept
			}
		}
		if len(out) == 0 {
			delete(m, "required")
		} else {
			m["required"] = out
		}
	}
}

// fixPatterns drops the pattern and patternProperties regexps that no
// engine compiles from m (that one constraint is skipped) with a located
// warning each.
func (s *SchemaSet) fixPatterns(m map[string]any, n *yaml.Node, file string) {
	if p, ok := m["pattern"].(string); ok {
		if _, err := s.pattern(p); err != nil {
			delete(m, "pattern")
			s.skipPattern(n, file, "pattern", p, err)
		}
	}
	if pp, ok := m["patternProperties"].(map[string]any); ok {
		for _, p := range slices.Sorted(maps.Keys(pp)) {
			if _, err := s.pattern(p); err != nil {
				delete(pp, p)
				s.skipPattern(n, file, "patternProperties", p, err)
			}
		}
	}
}

// SkipPattern records a regexp that no engine compiles, met outside a
// compile (the shape compiler's patternProperties): reported like the
// compiler's own, so that validate names it and spec_strict_patterns
// refuses the document.
func (s *SchemaSet) SkipPattern(n *yaml.Node, file, kw, p string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipPattern(n, file, kw, p, err)
}

func (s *SchemaSet) skipPattern(n *yaml.Node, file, kw, p string, err error) {
	key := fmt.Sprintf("%p\x00%s\x00%s", n, kw, p)
	if s.skippedKey[key] { // converted once per direction, reported once
		return
	}
	s.skippedKey[key] = true
	msg := fmt.Sprintf("%s: %s skipped (constraint not enforced): %v", s.locate(n, file), kw, err)
	s.warns = append(s.warns, msg)
	s.skipped = append(s.skipped, msg)
}

// directional reports whether a property schema is readOnly (request) or
// writeOnly (response), directly or in an allOf member.
func directional(ps map[string]any, p Purpose) bool {
	kw := "readOnly"
	if p == PurposeResponse {
		kw = "writeOnly"
	}
	if b, _ := ps[kw].(bool); b {
		return true
	}
	if all, ok := ps["allOf"].([]any); ok {
		for _, a := range all {
			if am, ok := a.(map[string]any); ok {
				if b, _ := am[kw].(bool); b {
					return true
				}
			}
		}
	}
	return false
}

func (s *SchemaSet) warn(n *yaml.Node, file, msg string) {
	if s.warned[n] {
		return
	}
	s.warned[n] = true
	s.warns = append(s.warns, s.locate(n, file)+": "+msg)
}

// locate formats "file:line:col" of n, file relative to the root's directory.
func (s *SchemaSet) locate(n *yaml.Node, file string) string {
	name := file
	if r, err := filepath.Rel(s.rootDir, file); err == nil && s.rootDir != "" {
		name = r
	}
	return fmt.Sprintf("%s:%d:%d", name, n.Line, n.Column)
}
