package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes one load visits, aliases expanded: a real config
// has a few thousand; an alias bomb ("billion laughs") would have billions.
const maxNodes = 1 << 18

// Load reads the YAML config at path: it starts from Default(), decodes the
// file strictly (unknown keys, wrong types and duplicate keys are errors),
// expands explicit ${ENV} and ${ENV:-default} references in scalar values
// ($${ writes a literal ${; a bare $VAR is left alone), resolves relative
// file paths (spec, tls files, fields tagged `path:"file"`) against the
// file's directory, and sets File.
//
// Every problem found while decoding is returned at once as a
// *ValidationError with file, line, column and key path. Load does not
// call Validate; Check does both.
func Load(path string) (*Config, error) {
	c, err := load(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Check is Load followed by Validate, reporting the problems of both in one
// *ValidationError (a Validate problem at a key that already failed to
// decode is left out, being a consequence of it). On success the warnings
// are in c.Warnings(). On failure the config is nil.
func Check(path string) (*Config, error) {
	c, err := load(path, os.LookupEnv)
	var le *ValidationError
	if err != nil && (c == nil || !errors.As(err, &le)) {
		return nil, err
	}
	verr := c.Validate()
	if le == nil {
		if verr != nil {
			return nil, verr
		}
		return c, nil
	}
	all := append([]Problem(nil), le.Problems...)
	var ve *ValidationError
	if errors.As(verr, &ve) {
		for _, p := range ve.Problems {
			if !underAny(p.Path, le.Problems) {
				all = append(all, p)
			}
		}
	} else {
		all = append(all, c.warnings...)
	}
	sortProblems(all)
	return nil, &ValidationError{Problems: all}
}

// underAny tells whether path is, or is below, the path of one of ps.
func underAny(path string, ps []Problem) bool {
	for _, p := range ps {
		if p.Path == "" || p.Warning {
			continue
		}
		if path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}

// load reads and decodes path. On decode problems it returns the partly
// decoded config together with the *ValidationError, so that Check can
// also run Validate; on a read or syntax error the config is nil.
func load(path string, lookup func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, path, lookup)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 parse error into a located problem.
// yaml.v3 reports only the line where the enclosing construct starts, so
// the position (line and column of the offending token) and message come
// from a second parser, goccy/go-yaml, when it also rejects the input;
// otherwise yaml.v3's line and column 1 are used.
func syntaxProblem(file string, data []byte, err error) Problem {
	if line, col, msg, ok := goccyPosition(data); ok {
		return Problem{File: file, Line: line, Col: col, Msg: "yaml syntax: " + msg}
	}
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Problem{File: file, Line: line, Col: 1, Msg: "yaml syntax: " + msg}
}

// goccyPosition parses data with goccy/go-yaml and returns the position of
// its syntax error, if any. It never panics.
func goccyPosition(data []byte) (line, col int, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line < 1 {
		return 0, 0, "", false
	}
	return se.Token.Position.Line, max(se.Token.Position.Column, 1), se.Message, true
}

// parse decodes data as the config file named file.
func parse(data []byte, file string, lookup func(string) (string, bool)) (c *Config, err error) {
	defer func() {
		// yaml.v3 is not supposed to panic on input, but a config loader
		// runs on reload inside a serving process: fail, never crash.
		if r := recover(); r != nil {
			c = nil
			err = &ValidationError{Problems: []Problem{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("internal error while loading: %v", r)}}}
		}
	}()
	c = Default()
	c.File = file
	c.pos = map[string]position{}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty file: Validate reports what is missing
			return c, nil
		}
		return nil, &ValidationError{Problems: []Problem{syntaxProblem(file, data, err)}}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &ValidationError{Problems: []Problem{{File: file, Line: extra.Line, Col: extra.Column,
			Msg: "a config file holds one YAML document; found a second one"}}}
	case !errors.Is(err, io.EOF):
		return nil, &ValidationError{Problems: []Problem{syntaxProblem(file, data, err)}}
	}

	d := &decoder{file: file, lookup: lookup, pos: c.pos, budget: maxNodes, active: map[*yaml.Node]bool{}}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return c, nil
		}
		root = root.Content[0]
	}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	c.fromEnv = d.fromEnv

	base := filepath.Dir(file)
	resolveTagged(reflect.ValueOf(c).Elem(), base)
	c.TLS.CertFile = resolvePath(base, c.TLS.CertFile)
	c.TLS.KeyFile = resolvePath(base, c.TLS.KeyFile)

	if len(d.probs) > 0 {
		sortProblems(d.probs)
		return c, &ValidationError{Problems: d.probs}
	}
	return c, nil
}

// position is where a key path sits in the file: its key and its value.
// For list items both are the item.
type position struct {
	keyLine, keyCol int
	valLine, valCol int
}

// Position returns the line and column of key path in the config file: the
// value's position when the path is in the file, else the key position of
// its nearest parent that is, else 1:1.
func (c *Config) Position(path string) (line, col int) {
	if p, ok := c.pos[path]; ok {
		return p.valLine, p.valCol
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' && path[i] != '[' {
			continue
		}
		if p, ok := c.pos[path[:i]]; ok {
			return p.keyLine, p.keyCol
		}
	}
	return 1, 1
}

// locateAll fills File, Line and Col of problems that have no position yet.
func (c *Config) locateAll(ps []Problem) {
	for i := range ps {
		if ps[i].File == "" {
			ps[i].File = c.File
		}
		if ps[i].Line == 0 {
			ps[i].Line, ps[i].Col = c.Position(ps[i].Path)
		}
	}
}

// Locate turns an error found after Validate (typically from gateway.Build)
// into a *ValidationError whose problems carry file positions: a
// *ValidationError keeps its problems, a *PathError (see AtPath) is placed
// at its key path, errors.Join trees are split, and any other error is
// placed at 1:1. Locate(nil) is nil.
func (c *Config) Locate(err error) error {
	if err == nil {
		return nil
	}
	var ps []Problem
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *ValidationError:
			ps = append(ps, x.Problems...)
			return
		case *PathError:
			ps = append(ps, Problem{Path: x.Path, Msg: x.Err.Error()})
			return
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(inner)
			}
			return
		}
		var ve *ValidationError
		if errors.As(e, &ve) {
			ps = append(ps, ve.Problems...)
			return
		}
		var pe *PathError
		if errors.As(e, &pe) {
			ps = append(ps, Problem{Path: pe.Path, Msg: strings.Replace(e.Error(), pe.Path+": ", "", 1)})
			return
		}
		ps = append(ps, Problem{Msg: e.Error()})
	}
	walk(err)
	c.locateAll(ps)
	sortProblems(ps)
	return &ValidationError{Problems: ps}
}

// decoder is a strict YAML-node-to-struct decoder that records every
// problem with its position and key path, and every key path's position.
type decoder struct {
	file      string
	lookup    func(string) (string, bool)
	probs     []Problem
	pos       map[string]position
	budget    int
	exhausted bool
	active    map[*yaml.Node]bool // alias targets being expanded (cycle guard)
	// fromEnv records the key paths whose value came from a ${ENV} reference.
	fromEnv map[string]bool
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.probs = append(d.probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...), File: d.file, Line: n.Line, Col: n.Column})
}

// index records the position of path (first visit wins).
func (d *decoder) index(path string, key, val *yaml.Node) {
	if _, ok := d.pos[path]; !ok {
		d.pos[path] = position{key.Line, key.Column, val.Line, val.Column}
	}
}

// spend charges one node against the budget; false means stop.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	d.budget--
	if d.budget >= 0 {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.errorf(n, path, "document too large (more than %d nodes once aliases are expanded)", maxNodes)
	}
	return false
}

// deref follows aliases; ok is false (and a problem recorded) on a cycle.
// release must be called when the caller is done with the target.
func (d *decoder) deref(n *yaml.Node, path string) (target *yaml.Node, release func(), ok bool) {
	var held []*yaml.Node
	release = func() {
		for _, h := range held {
			delete(d.active, h)
		}
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.errorf(n, path, "alias *%s refers to a node that contains it", n.Value)
			release()
			return nil, func() {}, false
		}
		d.active[n.Alias] = true
		held = append(held, n.Alias)
		n = n.Alias
	}
	return n, release, true
}

// isLocalTag tells whether tag is an application tag such as !vault or
// !env: silently reading its text as a plain value would surprise.
func isLocalTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") && tag != "!"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// initDefaults calls setDefaults on a freshly allocated addressable value.
func initDefaults(v reflect.Value) {
	if v.CanAddr() {
		if df, ok := v.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
	}
}

// decode decodes n into v. A null value (an empty key, ~ or null) leaves v
// as it is: the default stays.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n, path) {
		return
	}
	n, release, ok := d.deref(n, path)
	if !ok {
		return
	}
	defer release()
	if isLocalTag(n.Tag) {
		d.errorf(n, path, "YAML tag %s is not supported (gatehouse resolves no custom tags; use ${ENV} for values from the environment)", n.Tag)
		return
	}
	if isNull(n) {
		return
	}
	if v.CanAddr() {
		pt := v.Addr().Type()
		if pt.Implements(unmarshalerType) || pt.Implements(textType) {
			d.custom(n, v, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			nv := reflect.New(v.Type().Elem())
			initDefaults(nv.Elem())
			d.decode(n, nv.Elem(), path)
			v.Set(nv)
			return
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%s", cleanYAMLError(err))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		d.scalar(n, v, path)
	default:
		d.errorf(n, path, "internal: config field of kind %s is not supported", v.Kind())
	}
}

// custom decodes into a type with its own UnmarshalYAML or UnmarshalText.
func (d *decoder) custom(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode {
		var src string
		n, src = d.expand(n, path)
		if n == nil {
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errorf(n, path, "%s%s", cleanYAMLError(err), from(src))
		}
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.errorf(n, path, "%s", cleanYAMLError(err))
	}
}

// from names the ${...} template a value came from, without its value.
func from(src string) string {
	if src == "" {
		return ""
	}
	return fmt.Sprintf(" (from %q)", src)
}

var lineNoiseRE = regexp.MustCompile(`line \d+: `)

// cleanYAMLError strips yaml.v3's prefixes and line numbers (the problem
// already carries the position).
func cleanYAMLError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = lineNoiseRE.ReplaceAllString(msg, "")
	return strings.TrimSpace(msg)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	n, src := d.expand(n, path)
	if n == nil {
		return
	}
	if v.Kind() == reflect.String {
		v.SetString(n.Value)
		return
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		got := describe(n)
		if src != "" {
			got = fmt.Sprintf("the value of %q", src)
		}
		d.errorf(n, path, "expected %s, got %s", want(v.Type()), got)
		return
	}
	v.Set(tmp.Elem())
}

// expand applies ${ENV} expansion to a scalar. It returns the node to
// decode (a copy when expanded, re-tagged so "30" from ${X} can be an
// integer) and the original text when it was expanded; nil on error.
func (d *decoder) expand(n *yaml.Node, path string) (*yaml.Node, string) {
	if !strings.Contains(n.Value, "$") {
		return n, ""
	}
	val, changed, err := expandEnv(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return nil, ""
	}
	if !changed {
		return n, ""
	}
	if d.fromEnv == nil {
		d.fromEnv = map[string]bool{}
	}
	d.fromEnv[path] = true
	c := *n
	c.Value = val
	c.Tag = ""
	c.Style = 0
	return &c, n.Value
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv replaces ${NAME} and ${NAME:-default} in s. ${NAME:-default}
// uses the default when NAME is unset or empty; ${NAME} with NAME unset is
// an error. $${ is a literal ${. Other $ are kept as they are. Errors never
// include variable values.
func expandEnv(s string, lookup func(string) (string, bool)) (out string, changed bool, err error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
			changed = true
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", false, fmt.Errorf(`unclosed "${" (write "$${" for a literal "${")`)
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, ":-")
			if !envNameRE.MatchString(name) {
				return "", false, fmt.Errorf("invalid environment variable reference ${%s}: want ${NAME} or ${NAME:-default}", expr)
			}
			val, ok := lookup(name)
			if val == "" && hasDef {
				val = def
			} else if !ok {
				return "", false, fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
			}
			b.WriteString(val)
			i += 2 + end + 1
			changed = true
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), changed, nil
}

// pair is one key/value of a mapping.
type pair struct{ k, v *yaml.Node }

// pairs lists a mapping's entries with YAML merge keys (<<) applied:
// explicit keys win over merged ones, and among merged mappings the first
// wins. Duplicate explicit keys and non-string keys are errors.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	d.budget -= len(n.Content) / 2
	if !d.spend(n, path) {
		return nil
	}
	var merged, own []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSource(val, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "mapping keys must be strings, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, joinPath(path, k.Value), "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, pair{k, val})
	}
	if len(merged) == 0 {
		return own
	}
	out := make([]pair, 0, len(merged)+len(own))
	for _, p := range merged {
		if _, ok := seen[p.k.Value]; !ok {
			seen[p.k.Value] = p.k
			out = append(out, p)
		}
	}
	return append(out, own...)
}

// mergeSource returns the pairs a "<<" value contributes.
func (d *decoder) mergeSource(val *yaml.Node, path string) []pair {
	if !d.spend(val, path) {
		return nil
	}
	n, release, ok := d.deref(val, path)
	if !ok {
		return nil
	}
	defer release()
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range n.Content {
			m, rel, ok := d.deref(item, path)
			if !ok {
				continue
			}
			if m.Kind != yaml.MappingNode {
				d.errorf(item, path, "merge key << wants a mapping or a list of mappings")
			} else {
				out = append(out, d.pairs(m, path)...)
			}
			rel()
		}
		return out
	}
	d.errorf(val, path, "merge key << wants a mapping or a list of mappings")
	return nil
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	fs := fieldsOf(v.Type())
	for _, kv := range d.pairs(n, path) {
		kp := joinPath(path, kv.k.Value)
		d.index(kp, kv.k, kv.v)
		f, ok := fs.byKey[kv.k.Value]
		if !ok {
			d.errorf(kv.k, kp, "unknown key %q%s", kv.k.Value, suggest(kv.k.Value, fs.keys))
			continue
		}
		d.decode(kv.v, v.FieldByIndex(f), kp)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected %s, got %s", want(t), describe(n))
		return
	}
	if t.Key().Kind() != reflect.String {
		d.errorf(n, path, "internal: map keys of kind %s are not supported", t.Key().Kind())
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, kv := range d.pairs(n, path) {
		kp := joinPath(path, kv.k.Value)
		d.index(kp, kv.k, kv.v)
		ev := reflect.New(t.Elem()).Elem()
		initDefaults(ev)
		d.decode(kv.v, ev, kp)
		m.SetMapIndex(reflect.ValueOf(kv.k.Value).Convert(t.Key()), ev)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := path + "[" + strconv.Itoa(i) + "]"
		d.index(ip, item, item)
		ev := s.Index(i)
		initDefaults(ev)
		d.decode(item, ev, ip)
	}
	v.Set(s)
}

// describe names what a node is, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "the number " + v
		case "!!bool":
			return "the boolean " + v
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("the string %q", v)
	}
	return "a document"
}

// want names what a Go type expects, for "expected X, got Y".
func want(t reflect.Type) string {
	if t == durationType {
		return `a duration like "30s"`
	}
	switch t.Kind() {
	case reflect.Pointer:
		return want(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping (key: value)"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return t.String()
}

// suggest returns ` (did you mean "x"?)` for a close known key, else the
// list of known keys when it is short.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dd := editDistance(strings.ToLower(key), k); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(known) > 0 && len(known) <= 12 {
		return " (known keys: " + strings.Join(known, ", ") + ")"
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// structFields maps the YAML keys of a struct type to field index paths.
type structFields struct {
	byKey map[string][]int
	keys  []string // sorted
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	fs := &structFields{byKey: map[string][]int{}}
	var add func(t reflect.Type, index []int)
	add = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			key, ok := yamlKey(sf)
			if !ok {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if inline(sf) && sf.Type.Kind() == reflect.Struct {
				add(sf.Type, idx)
				continue
			}
			if _, dup := fs.byKey[key]; !dup {
				fs.byKey[key] = idx
				fs.keys = append(fs.keys, key)
			}
		}
	}
	add(t, nil)
	sort.Strings(fs.keys)
	fieldCache.Store(t, fs)
	return fs
}

// yamlKey returns the YAML key of a struct field and whether it is part of
// the file at all (exported, not `yaml:"-"`).
func yamlKey(sf reflect.StructField) (string, bool) {
	if !sf.IsExported() && !(sf.Anonymous && inline(sf)) {
		return "", false
	}
	tag := sf.Tag.Get("yaml")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, true
}

// inline tells whether a field carries `yaml:",inline"`.
func inline(sf reflect.StructField) bool {
	_, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			return true
		}
	}
	return false
}

// resolvePath joins a relative file path to base; empty, absolute and URL
// ("://") values are returned as they are.
func resolvePath(base, p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(base, p)
}

// resolveTagged resolves every `path:"file"` field below v.
func resolveTagged(v reflect.Value, base string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			resolveTagged(v.Elem(), base)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			resolveTagged(v.Index(i), base)
		}
	case reflect.Map:
		if !hasPathTags(v.Type().Elem(), map[reflect.Type]bool{}) {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			ev := reflect.New(v.Type().Elem()).Elem()
			ev.Set(iter.Value())
			resolveTagged(ev, base)
			v.SetMapIndex(iter.Key(), ev)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if _, ok := yamlKey(sf); !ok {
				continue
			}
			fv := v.Field(i)
			if sf.Tag.Get("path") == "file" {
				switch {
				case fv.Kind() == reflect.String:
					fv.SetString(resolvePath(base, fv.String()))
				case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
					for j := 0; j < fv.Len(); j++ {
						fv.Index(j).SetString(resolvePath(base, fv.Index(j).String()))
					}
				}
				continue
			}
			resolveTagged(fv, base)
		}
	}
}

// hasPathTags tells whether t contains a `path:"file"` field anywhere.
func hasPathTags(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return hasPathTags(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if sf.Tag.Get("path") == "file" || hasPathTags(sf.Type, seen) {
				return true
			}
		}
	}
	return false
}
