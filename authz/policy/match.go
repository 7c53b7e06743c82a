package policy

import (
	"fmt"
	"strings"
)

type keyKind int

const (
	kindOperation keyKind = iota // operationId
	kindRoute                    // "METHOD /template"
	kindTag                      // "tag:admin"
	kindPath                     // "path:/admin/**"
)

func (k keyKind) group() bool { return k == kindTag || k == kindPath }

var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "TRACE": true, "CONNECT": true, "QUERY": true}

// ruleKey is a parsed rule key.
type ruleKey struct {
	kind     keyKind
	raw      string
	id       string   // kindOperation
	method   string   // kindRoute
	template string   // kindRoute
	tag      string   // kindTag
	segs     []string // kindPath: pattern segments (lower case)
}

// parseKey parses a rule key: "tag:NAME", "path:/PATTERN", "METHOD /template"
// or an operationId.
func parseKey(k string) (ruleKey, error) {
	rk := ruleKey{raw: k}
	switch {
	case k == "":
		return rk, fmt.Errorf("empty rule key")
	case strings.HasPrefix(k, "tag:"):
		rk.kind, rk.tag = kindTag, k[len("tag:"):]
		if rk.tag == "" {
			return rk, fmt.Errorf("tag key %q names no tag", k)
		}
	case strings.HasPrefix(k, "path:"):
		rk.kind = kindPath
		p := k[len("path:"):]
		if !strings.HasPrefix(p, "/") {
			return rk, fmt.Errorf("path key %q: pattern must start with /", k)
		}
		segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
		for i, s := range segs {
			if s == "" && !(i == len(segs)-1 && len(segs) == 1) {
				return rk, fmt.Errorf("path key %q: empty segment", k)
			}
			if s == "**" && i != len(segs)-1 {
				return rk, fmt.Errorf("path key %q: ** is only allowed as the last segment", k)
			}
			if strings.Contains(s, "*") && s != "*" && s != "**" {
				return rk, fmt.Errorf("path key %q: a segment is either * or ** or literal", k)
			}
			segs[i] = strings.ToLower(s)
		}
		if len(segs) == 1 && segs[0] == "" {
			segs = nil // "path:/" is the root only
		}
		rk.segs = segs
	default:
		if m, t, ok := strings.Cut(k, " "); ok && methods[m] {
			if !strings.HasPrefix(t, "/") {
				return rk, fmt.Errorf("route key %q: template must start with /", k)
			}
			rk.kind, rk.method, rk.template = kindRoute, m, t
			return rk, nil
		}
		if strings.ContainsAny(k, " \t/") {
			return rk, fmt.Errorf("rule key %q is neither an operationId, \"METHOD /template\", \"tag:NAME\" nor \"path:/PATTERN\"", k)
		}
		rk.kind, rk.id = kindOperation, k
	}
	return rk, nil
}

// matches reports whether the key addresses op. Path patterns match the spec
// template (never the raw request path: the router has already canonicalized
// the request and picked the template), segment by segment and case-
// insensitively, so a pattern covers at least what it says: "*" is one
// segment, a trailing "**" is zero or more.
func (k ruleKey) matches(op *Operation) bool {
	switch k.kind {
	case kindOperation:
		return op.ID == k.id
	case kindRoute:
		return op.Method == k.method && op.Template == k.template
	case kindTag:
		for _, t := range op.Tags {
			if t == k.tag {
				return true
			}
		}
		return false
	}
	tsegs := strings.Split(strings.TrimPrefix(op.Template, "/"), "/")
	if len(tsegs) == 1 && tsegs[0] == "" {
		tsegs = nil
	}
	for i, ps := range k.segs {
		if ps == "**" {
			return true
		}
		if i >= len(tsegs) {
			return false
		}
		if ps != "*" && ps != strings.ToLower(tsegs[i]) {
			return false
		}
	}
	return len(tsegs) == len(k.segs)
}
