package openapi

import (
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"
)

// Position returns the source location of the JSON pointer (RFC 6901, e.g.
// "/paths/~1users~1{id}/get") in the spec's root file: the line and column
// (1-based) of the key that holds the value, or of the array element. Local
// "$ref"s ("#/...") met on the way are followed. When the pointer leads
// into another file or does not exist, the position of the deepest node
// reached is returned, so the answer is always "as close as possible";
// line is 0 only when nothing of the pointer could be located (or for
// LoadBytes specs with no root node). file is Spec.Path.
//
// For a Swagger 2.0 spec the positions refer to the original 2.0 file;
// pointers under /paths are the same in both versions.
func (s *Spec) Position(pointer string) (file string, line, col int) {
	if s == nil {
		return "", 0, 0
	}
	file = s.Path
	n := s.root
	if n == nil {
		return file, 0, 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	root := n
	line, col = n.Line, n.Column
	pointer = strings.TrimPrefix(pointer, "#")
	if pointer == "" || pointer == "/" {
		return file, line, col
	}
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for hops := 0; len(toks) > 0; {
		tok := unescapePointer(toks[0])
		switch n.Kind {
		case yaml.AliasNode:
			if n.Alias == nil {
				return file, line, col
			}
			n = n.Alias
			continue
		case yaml.MappingNode:
			var next, key *yaml.Node
			var ref string
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Value == tok {
					key, next = k, n.Content[i+1]
				}
				if k.Value == "$ref" {
					ref = n.Content[i+1].Value
				}
			}
			if next == nil {
				if ref != "" && strings.HasPrefix(ref, "#") && hops < 32 {
					// follow a local reference and keep walking
					hops++
					target := strings.TrimPrefix(ref, "#")
					rest := toks
					toks = append(splitPointer(target), rest...)
					n = root
					continue
				}
				return file, line, col
			}
			line, col = key.Line, key.Column
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return file, line, col
			}
			n = n.Content[i]
			line, col = n.Line, n.Column
		default:
			return file, line, col
		}
		toks = toks[1:]
	}
	return file, line, col
}

func splitPointer(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
