package openapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi"
)

// ErrMissingRefFile: a $ref names a local file that does not exist or
// cannot be read.
var ErrMissingRefFile = errors.New("$ref to a missing file")

// missingRefFile looks, after a failed build, for a $ref to a local file
// that is not there: libopenapi then reports only the pointer it could not
// find ("component `#/Thing` does not exist"), not the file. It walks the
// root file and every file libopenapi loaded and returns the first such ref
// at FILE:LINE:COL, naming the file as written and as resolved; nil when
// every referenced local file exists. It runs only on failure, so valid
// specs pay nothing.
func missingRefFile(doc libopenapi.Document, name, rootAbs string) error {
	info := doc.GetSpecInfo()
	if info == nil || info.RootNode == nil || rootAbs == "" {
		return nil // bytes: no file references
	}
	type file struct {
		abs  string
		root *yaml.Node
	}
	files := []file{{rootAbs, contentNode(info.RootNode)}}
	if rx := doc.GetRolodex(); rx != nil {
		for _, idx := range rx.GetIndexes() {
			if idx != nil && idx.GetRootNode() != nil && idx.GetSpecAbsolutePath() != rootAbs {
				files = append(files, file{idx.GetSpecAbsolutePath(), contentNode(idx.GetRootNode())})
			}
		}
	}
	g := &refGraph{name: name, rootAbs: rootAbs}
	seen := map[string]bool{}
	for _, f := range files {
		stack := []*yaml.Node{f.root}
		for steps := 0; len(stack) > 0 && steps < MaxSpecNodes; steps++ {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == nil {
				continue
			}
			switch n.Kind {
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					v := n.Content[i+1]
					if n.Content[i].Value == "$ref" && v.Kind == yaml.ScalarNode {
						ref, _, _ := strings.Cut(v.Value, "#")
						if ref == "" || strings.Contains(ref, "://") {
							continue
						}
						abs := filepath.Clean(filepath.Join(filepath.Dir(f.abs), filepath.FromSlash(ref)))
						if filepath.IsAbs(ref) {
							abs = filepath.Clean(ref)
						}
						if seen[abs] {
							continue
						}
						seen[abs] = true
						if st, err := os.Stat(abs); err != nil || st.IsDir() {
							return fmt.Errorf("%w: %s: $ref %q: file %s does not exist or is not a file",
								ErrMissingRefFile, g.at(&refFile{abs: f.abs}, v), v.Value, g.rel(abs))
						}
						continue
					}
					stack = append(stack, v)
				}
			case yaml.SequenceNode:
				stack = append(stack, n.Content...)
			}
		}
	}
	return nil
}
