package audit

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// OverlayAction is one suggested change of an OpenAPI Overlay 1.0 document:
// Update is merged into the schema at Target (an RFC 9535 JSONPath in
// bracket notation, e.g. $['components']['schemas']['User']['properties']['name']).
type OverlayAction struct {
	Target      string
	Description string
	// Update lists key/value pairs in order (values are YAML scalars).
	Update [][2]string
	// Pointer is the JSON pointer Target was made from.
	Pointer string
}

// SuggestOverlay returns the constraints the audit finds missing in spec,
// as overlay actions for review: maxLength (and a pattern for id- and
// URL-like strings) on unbounded input strings, maxItems on unbounded
// input arrays, minimum/maximum on unbounded input numbers, and
// additionalProperties: false (3.0) or unevaluatedProperties: false (3.1)
// on open request body objects, and x-gatehouse-path: true on strings named
// like a file name or path. Schemas in other files (reached through a
// non-local $ref) are left out: an overlay target cannot follow a $ref.
// The values are starting points, not facts about the API: each action's
// description says what to check.
func SuggestOverlay(spec *openapi.Spec) (actions []OverlayAction, err error) {
	if spec == nil || openapi.Model(spec) == nil {
		return nil, errors.New("audit: no spec")
	}
	defer func() {
		if r := recover(); r != nil {
			actions, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	c := newCtx(spec, Options{})
	seen := map[string]bool{}
	for _, st := range c.schemas.sites {
		if st.dir != dirRequest || st.external || seen[st.ptr] {
			continue
		}
		var upd [][2]string
		var why []string
		name := strings.TrimPrefix(strings.TrimPrefix(siteName(st), "property "), "parameter ")
		switch {
		case fileContent(st.s):
			// An upload's content: bounded by request.max_body, never a
			// maxLength of 256, and its bytes are not a path.
			continue
		case unboundedString(st):
			n := "256"
			if longText(name) {
				n = "4096"
			}
			upd = append(upd, [2]string{"maxLength", n})
			why = append(why, "maxLength "+n)
			switch {
			case URLLike(name):
				upd = append(upd, [2]string{"pattern", `'^https://'`})
				why = append(why, "https URLs only (add your allowed hosts)")
			case IDParam(name):
				upd = append(upd, [2]string{"pattern", `'^[A-Za-z0-9_-]{1,64}$'`})
				why = append(why, "id characters only")
			}
		case unboundedArray(st):
			upd = append(upd, [2]string{"maxItems", "100"})
			why = append(why, "maxItems 100")
		case unboundedNumber(st):
			if st.s.Minimum == nil && (st.s.ExclusiveMinimum == nil || !st.s.ExclusiveMinimum.IsB()) {
				upd = append(upd, [2]string{"minimum", "0"})
			}
			if st.s.Maximum == nil && (st.s.ExclusiveMaximum == nil || !st.s.ExclusiveMaximum.IsB()) {
				max := "1000000"
				if pageSize(name) {
					max = "100"
				}
				upd = append(upd, [2]string{"maximum", max})
			}
			why = append(why, "bounds")
		case c.openObject(st):
			key := "additionalProperties"
			if c.is31() {
				key = "unevaluatedProperties"
			}
			upd = append(upd, [2]string{key, "false"})
			why = append(why, key+": false (reject unknown properties)")
		}
		if pathInput(st, name) {
			upd = append(upd, [2]string{"x-gatehouse-path", "true"})
			why = append(why, "a file name or path: the gateway refuses .., absolute paths and their encodings (x-gatehouse-path)")
		}
		if len(upd) == 0 {
			continue
		}
		seen[st.ptr] = true
		desc := fmt.Sprintf("REVIEW %s (%s %s): %s", name, st.op.Method, st.op.Template, strings.Join(why, ", "))
		actions = append(actions, OverlayAction{Target: PointerToJSONPath(st.ptr), Description: desc, Update: upd, Pointer: st.ptr})
	}
	return actions, nil
}

// fileContent reports whether s is the content of an uploaded file
// (format: binary, or a contentMediaType in 3.1).
func fileContent(s *base.Schema) bool {
	return s != nil && (s.Format == "binary" || s.ContentMediaType != "")
}

// pathInput reports whether an input string site is named like a file name
// or path (scan.FileLikeName, on the last key of a body field) and is not
// already marked with x-gatehouse-path or limited to fixed values.
func pathInput(st *site, name string) bool {
	s := st.s
	if !hasType(s, "string") || len(s.Enum) > 0 || s.Const != nil {
		return false
	}
	if s.Extensions != nil {
		if _, ok := s.Extensions.Get("x-gatehouse-path"); ok {
			return false
		}
	}
	return scan.FileLikeName(name)
}

var longTextRe = regexp.MustCompile(`(?i)desc|text|body|content|comment|message|note|bio|summary|prompt|instructions`)

func longText(name string) bool { return longTextRe.MatchString(name) }

var pageSizeRe = regexp.MustCompile(`(?i)^(limit|per_?page|page_?size|size|count|top|first|last|max_?results)$`)

func pageSize(name string) bool { return pageSizeRe.MatchString(name) }

// PointerToJSONPath turns a JSON pointer into an RFC 9535 JSONPath in
// bracket notation ("/paths/~1users/get" -> "$['paths']['/users']['get']").
// Array indexes stay numeric.
func PointerToJSONPath(ptr string) string {
	var sb strings.Builder
	sb.WriteString("$")
	if ptr == "" {
		return "$"
	}
	prev := ""
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescape(tok)
		isIndex := arrayKeys[prev]
		prev = tok
		if n, err := strconv.Atoi(tok); isIndex && err == nil && n >= 0 && strconv.Itoa(n) == tok {
			sb.WriteString("[" + tok + "]")
			continue
		}
		sb.WriteString("['")
		sb.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(tok))
		sb.WriteString("']")
	}
	return sb.String()
}

// arrayKeys are the OpenAPI keys whose value is a list: a numeric token
// after one of them is an index ([0]), anywhere else a name ('200').
var arrayKeys = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true, "parameters": true, "servers": true, "security": true, "tags": true}

// JSONPathToPointer is the inverse of PointerToJSONPath for the bracket
// subset it writes (and dotted names, "$.components.schemas.User"). ok is
// false for anything else (filters, wildcards, recursive descent).
func JSONPathToPointer(p string) (ptr string, ok bool) {
	if !strings.HasPrefix(p, "$") {
		return "", false
	}
	rest := p[1:]
	var toks []string
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "['"):
			var sb strings.Builder
			i := 2
			for ; i < len(rest); i++ {
				ch := rest[i]
				if ch == '\\' && i+1 < len(rest) {
					i++
					sb.WriteByte(rest[i])
					continue
				}
				if ch == '\'' {
					break
				}
				sb.WriteByte(ch)
			}
			if i+1 >= len(rest) || rest[i] != '\'' || rest[i+1] != ']' {
				return "", false
			}
			toks = append(toks, sb.String())
			rest = rest[i+2:]
		case strings.HasPrefix(rest, "["):
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return "", false
			}
			n := rest[1:j]
			if _, err := strconv.Atoi(n); err != nil {
				return "", false
			}
			toks = append(toks, n)
			rest = rest[j+1:]
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			j := strings.IndexAny(rest, ".[")
			if j < 0 {
				j = len(rest)
			}
			name := rest[:j]
			if name == "" || name == "*" || strings.ContainsAny(name, "?@()*") {
				return "", false
			}
			toks = append(toks, name)
			rest = rest[j:]
		default:
			return "", false
		}
	}
	for i, t := range toks {
		toks[i] = escape(t)
	}
	if len(toks) == 0 {
		return "", true
	}
	return "/" + strings.Join(toks, "/"), true
}

// boundKeys are the update keys that count as bounding a schema.
var boundKeys = map[string]bool{"maxLength": true, "enum": true, "const": true, "pattern": true, "format": true,
	"maxItems": true, "maximum": true, "exclusiveMaximum": true, "additionalProperties": true, "unevaluatedProperties": true}

// OverlayTargets reads an OpenAPI Overlay 1.0 document and returns the JSON
// pointers whose update sets a bound (maxLength, pattern, enum, maxItems,
// maximum, additionalProperties...). Targets outside the supported
// JSONPath subset are skipped (they are counted in skipped).
func OverlayTargets(data []byte) (bounded map[string]bool, skipped int, err error) {
	var doc struct {
		Overlay string `yaml:"overlay"`
		Actions []struct {
			Target string         `yaml:"target"`
			Update map[string]any `yaml:"update"`
			Remove bool           `yaml:"remove"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("overlay: %w", err)
	}
	if !strings.HasPrefix(doc.Overlay, "1.") {
		return nil, 0, fmt.Errorf("overlay: want overlay: 1.x, got %q", doc.Overlay)
	}
	bounded = map[string]bool{}
	for _, a := range doc.Actions {
		if a.Remove {
			continue
		}
		ptr, ok := JSONPathToPointer(a.Target)
		if !ok {
			skipped++
			continue
		}
		for k := range a.Update {
			if boundKeys[k] {
				bounded[ptr] = true
			}
		}
	}
	return bounded, skipped, nil
}

// WriteOverlay renders actions as a commented OpenAPI Overlay 1.0 YAML
// document that extends specFile.
func WriteOverlay(title, specFile string, actions []OverlayAction) []byte {
	var sb strings.Builder
	sb.WriteString("# OpenAPI Overlay 1.0 written by gatehouse init: constraints the audit found missing.\n")
	sb.WriteString("# Nothing here is known about your API: review every action (bounds, patterns), keep what\n")
	sb.WriteString("# is right: the gateway applies it to the spec at every load (spec_overlays in its config).\n")
	sb.WriteString("overlay: 1.0.0\n")
	sb.WriteString("info:\n")
	sb.WriteString("  title: " + yamlQuote(title) + "\n")
	sb.WriteString("  version: 1.0.0\n")
	sb.WriteString("extends: " + yamlQuote(specFile) + "\n")
	if len(actions) == 0 {
		sb.WriteString("actions: []\n")
		return []byte(sb.String())
	}
	sb.WriteString("actions:\n")
	for _, a := range actions {
		sb.WriteString("  - target: " + yamlQuote(a.Target) + "\n")
		sb.WriteString("    description: " + yamlQuote(a.Description) + "\n")
		sb.WriteString("    update:\n")
		for _, kv := range a.Update {
			sb.WriteString("      " + kv[0] + ": " + kv[1] + "\n")
		}
	}
	return []byte(sb.String())
}

// yamlQuote returns s as a double-quoted YAML scalar.
func yamlQuote(s string) string {
	return strconv.Quote(s)
}
