package audit

import (
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
)

// Gateway is what the coverage rules need to know of a gateway config. It
// is plain data so that this package does not depend on the config loader;
// cmd/gatehouse fills it from internal/config.
type Gateway struct {
	// File is the config file, for messages.
	File string
	// Default is authz.default: "deny", "authenticated" or "public".
	Default string
	// Rules are authz.rules.
	Rules []GatewayRule
	// LoginOperations is rate_limits.login.operations (brute-force
	// protection); LoginPerAccount tells whether per-account limits or a
	// lockout are set.
	LoginOperations []string
	// Limits are rate_limits.limits.
	Limits []GatewayLimit
	// ResponseMode is response.mode: "filter", "validate" or "off".
	ResponseMode string
	// MaxStringLength and MaxArrayLength are the request-wide fallbacks
	// (0: none).
	MaxStringLength int64
	MaxArrayLength  int
	// Bounded holds the JSON pointers of schemas that an overlay bounds
	// (see OverlayTargets).
	Bounded map[string]bool
}

// GatewayRule is one authz rule.
type GatewayRule struct {
	// Key is an operationId, "METHOD /template", "tag:NAME" or "path:/PATTERN".
	Key           string
	Public        bool
	Authenticated bool
	// Roles holds roles, roles_all and scopes together.
	Roles []string
	Allow string
	// OwnerParam is owner.param ("" without an owner rule).
	OwnerParam string
	// OwnerResponse tells that an owner_response rule is set.
	OwnerResponse bool
}

// GatewayLimit is one rate limit.
type GatewayLimit struct {
	Name       string
	Operations []string
}

// matches reports whether rule key k addresses op, with the gateway's
// semantics (authz/policy): operationId, "METHOD /template", "tag:NAME", or
// "path:/PATTERN" (segments compared case-insensitively; "*" one segment,
// a trailing "**" any number).
func keyMatches(k string, op *openapi.Operation) bool {
	switch {
	case strings.HasPrefix(k, "tag:"):
		for _, t := range op.Tags {
			if t == k[4:] {
				return true
			}
		}
		return false
	case strings.HasPrefix(k, "path:"):
		pat := strings.Split(strings.TrimPrefix(k[5:], "/"), "/")
		if len(pat) == 1 && pat[0] == "" {
			pat = nil
		}
		segs := strings.Split(strings.TrimPrefix(op.Template, "/"), "/")
		if len(segs) == 1 && segs[0] == "" {
			segs = nil
		}
		for i, ps := range pat {
			if ps == "**" {
				return true
			}
			if i >= len(segs) || (ps != "*" && !strings.EqualFold(ps, segs[i])) {
				return false
			}
		}
		return len(segs) == len(pat)
	}
	if m, t, ok := strings.Cut(k, " "); ok && strings.HasPrefix(t, "/") {
		return op.Method == m && op.Template == t
	}
	return op.ID == k
}

// rulesFor returns the rules that address op.
func (g *Gateway) rulesFor(op *openapi.Operation) []GatewayRule {
	var out []GatewayRule
	for _, r := range g.Rules {
		if keyMatches(r.Key, op) {
			out = append(out, r)
		}
	}
	return out
}

// public reports whether anonymous callers reach op.
func (g *Gateway) public(op *openapi.Operation) bool {
	rs := g.rulesFor(op)
	if len(rs) == 0 {
		return g.Default == "public"
	}
	for _, r := range rs {
		if !r.Public {
			return false // every matching rule must allow; a non-public one needs a principal
		}
	}
	return true
}

// ownership reports whether a rule checks that param belongs to the caller
// (owner, owner_response, or a CEL allow naming it), or restricts op to
// roles.
func (g *Gateway) ownership(op *openapi.Operation, param string) bool {
	for _, r := range g.rulesFor(op) {
		if strings.EqualFold(r.OwnerParam, param) || r.OwnerResponse || len(r.Roles) > 0 {
			return true
		}
		if r.Allow != "" && strings.Contains(r.Allow, param) {
			return true
		}
	}
	return false
}

// roleGuarded reports whether a rule restricts op to roles or scopes.
func (g *Gateway) roleGuarded(op *openapi.Operation) bool {
	for _, r := range g.rulesFor(op) {
		if len(r.Roles) > 0 || strings.Contains(r.Allow, "roles") || strings.Contains(r.Allow, "scopes") {
			return true
		}
	}
	return false
}

// loginLimited reports whether op has brute-force protection or a rate
// limit naming it.
func (g *Gateway) loginLimited(op *openapi.Operation) bool {
	for _, id := range g.LoginOperations {
		if id == op.ID {
			return true
		}
	}
	for _, l := range g.Limits {
		for _, id := range l.Operations {
			if id == op.ID {
				return true
			}
		}
	}
	return false
}
