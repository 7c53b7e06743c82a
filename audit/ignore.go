package audit

import (
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"

	"github.com/gatehouse/gatehouse/openapi"
)

// IgnoreExtension lists rule IDs accepted on the object that carries it and
// everything below it: "x-gatehouse-ignore: [GH1101, GH1204]" (a single
// string is accepted too; "*" accepts every rule).
const IgnoreExtension = "x-gatehouse-ignore"

// ignoreSet maps a JSON pointer to the rule IDs ignored at and below it.
type ignoreSet struct {
	at map[string]map[string]bool
}

// ignored reports whether rule id is ignored at pointer (or an ancestor).
func (s *ignoreSet) ignored(id, pointer string) bool {
	if s == nil || len(s.at) == 0 {
		return false
	}
	p := pointer
	for {
		if ids := s.at[p]; ids != nil && (ids[id] || ids["*"]) {
			return true
		}
		if p == "" {
			return false
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func (s *ignoreSet) add(pointer string, n *yaml.Node) {
	var ids []string
	switch {
	case n == nil:
	case n.Kind == yaml.ScalarNode:
		ids = append(ids, n.Value)
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind == yaml.ScalarNode {
				ids = append(ids, e.Value)
			}
		}
	}
	for _, id := range ids {
		id = strings.ToUpper(strings.TrimSpace(id))
		if id == "" {
			continue
		}
		if s.at[pointer] == nil {
			s.at[pointer] = map[string]bool{}
		}
		s.at[pointer][id] = true
	}
}

// maxIgnoreDepth bounds the walk of the source tree (hostile nesting).
const maxIgnoreDepth = 256

// collectIgnores walks the root file's YAML tree for x-gatehouse-ignore
// keys. Objects in other files are covered by the schema walk (their
// extensions are read there).
func collectIgnores(spec *openapi.Spec) *ignoreSet {
	s := &ignoreSet{at: map[string]map[string]bool{}}
	if openapi.Document(spec) == nil {
		return s
	}
	info := openapi.Document(spec).GetSpecInfo()
	if info == nil || info.RootNode == nil {
		return s
	}
	var walk func(n *yaml.Node, ptr string, depth int)
	walk = func(n *yaml.Node, ptr string, depth int) {
		if n == nil || depth > maxIgnoreDepth {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, ptr, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == IgnoreExtension {
					s.add(ptr, v)
					continue
				}
				if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
					walk(v, ptr+"/"+escape(k.Value), depth+1)
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
					walk(c, ptr+"/"+strconv.Itoa(i), depth+1)
				}
			}
		}
	}
	walk(info.RootNode, "", 0)
	return s
}

// escape escapes one JSON pointer token (RFC 6901).
func escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return pointerEscaper.Replace(tok)
}

var (
	pointerEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)
