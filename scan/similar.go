package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Similarity returns how alike two response bodies are, from 0 (nothing in
// common) to 1 (same content). JSON bodies are compared as sets of
// "path=value" leaves, so key order and whitespace do not matter; other
// bodies as sets of words. Two empty bodies are identical.
func Similarity(a, b []byte) float64 {
	sa, sb := features(a), features(b)
	if len(sa) == 0 && len(sb) == 0 {
		return 1
	}
	inter := 0
	for k := range sa {
		if sb[k] {
			inter++
		}
	}
	union := len(sa) + len(sb) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// Shape returns the sorted set of JSON key paths of body (values ignored),
// "" when body is not JSON.
func Shape(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	set := map[string]bool{}
	flatten("", v, func(p, _ string) { set[p] = true }, 0)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func features(b []byte) map[string]bool {
	set := map[string]bool{}
	b = bytes.TrimSpace(b)
	var v any
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Unmarshal(b, &v) == nil {
		flatten("", v, func(p, val string) { set[p+"="+val] = true }, 0)
		if len(set) == 0 {
			set[string(b)] = true
		}
		return set
	}
	for _, w := range strings.FieldsFunc(string(b), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		set[w] = true
	}
	return set
}

func flatten(prefix string, v any, emit func(path, val string), depth int) {
	if depth > 12 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			emit(prefix, "{}")
		}
		for k, e := range x {
			flatten(prefix+"."+k, e, emit, depth+1)
		}
	case []any:
		if len(x) == 0 {
			emit(prefix, "[]")
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, emit, depth+1)
		}
	default:
		emit(prefix, fmt.Sprint(x))
	}
}

// JSONLeaves returns "path=value" for every leaf of a JSON body (nil if not JSON).
func JSONLeaves(body []byte) map[string]string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	out := map[string]string{}
	flatten("", v, func(p, val string) { out[p] = val }, 0)
	return out
}
