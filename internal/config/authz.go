package config

import (
	"strings"
	"unicode"
)

// Authz configures authorization:
//
//	authz:
//	  default: authenticated            # deny | authenticated | public
//	  mode: enforce                     # optional; empty follows the route's (or global) mode
//	  rules:                            # key: operationId, "METHOD /template", "tag:NAME", "path:/PATTERN"
//	    getUser:
//	      roles: [admin, support]       # any of
//	      roles_all: [staff]            # all of
//	      scopes: ["users:read"]        # all of
//	      allow: "request.path.user_id == principal.claims.uid || 'admin' in principal.roles"
//	      owner: { param: user_id, claim: sub, unless_role: admin }
//	    getNote:                        # reads whose owner only the upstream's response knows
//	      owner_response: { field: /owner_id, claim: sub, unless_role: admin, deny_status: 404 }
//	    listNotes: { owner_response: { field: /owner_id, claim: sub, filter: true } }
//	    getHealth: { public: true }
//	    "tag:admin": { roles: [admin] }
//	    "path:/admin/**": { roles: [admin] }
//
// Every rule that addresses an operation must allow it (see docs/authz.md).
// The gateway compiles the rules against the spec in Build: a CEL type error
// or a key that matches no operation fails there, reported at
// authz.rules.<key>.<field>.
type Authz struct {
	// Default is what an operation no rule addresses gets: deny, authenticated or public.
	Default string `yaml:"default" enum:"deny,authenticated,public"`
	// Mode forces enforce or monitor for authorization; empty follows the
	// route's (or the global) mode.
	Mode string `yaml:"mode" enum:"enforce,monitor"`
	// Rules by key: operationId, "METHOD /template", "tag:NAME" or "path:/PATTERN" (* one segment, trailing ** any).
	Rules map[string]*AuthzRule `yaml:"rules"`
	// CELCostLimit caps the runtime cost of one CEL evaluation.
	CELCostLimit uint64 `yaml:"cel_cost_limit"`
	// CELTimeout caps the wall time of one CEL evaluation that loops.
	CELTimeout Duration `yaml:"cel_timeout"`
}

// AuthzRule is one rule; every condition given must hold.
type AuthzRule struct {
	// Public lets anonymous callers in (operation keys only, alone).
	Public bool `yaml:"public"`
	// Authenticated lets any authenticated principal in.
	Authenticated bool `yaml:"authenticated"`
	// Roles: the principal needs at least one.
	Roles []string `yaml:"roles"`
	// RolesAll: the principal needs all of them.
	RolesAll []string `yaml:"roles_all"`
	// Scopes: the principal needs all of them.
	Scopes []string `yaml:"scopes"`
	// Allow is a CEL expression over principal.* and request.* that must be true.
	Allow string `yaml:"allow"`
	// Owner requires the id parameter to be the principal's own.
	Owner *AuthzOwner `yaml:"owner"`
	// OwnerResponse requires the object in the 2xx JSON response to be the
	// principal's own (GET/HEAD operations only; operation keys only).
	OwnerResponse *AuthzOwnerResponse `yaml:"owner_response"`
}

// AuthzOwnerResponse is the response-side ownership rule: the upstream's
// 2xx JSON response is buffered (at most response.max_body) and the value at
// Field must be the caller's id; otherwise DenyStatus with a generic body.
type AuthzOwnerResponse struct {
	// Field is a JSON pointer into the response object, or into each element of an array response (e.g. /owner_id). Empty: the operation's x-gatehouse-owner-field.
	Field string `yaml:"field"`
	// Claim is the principal claim holding the caller's id (or list of ids): sub, or a token claim.
	Claim string `yaml:"claim"`
	// UnlessRole skips the check (and the buffering) for principals with this role.
	UnlessRole string `yaml:"unless_role"`
	// UnlessRoles skips the check for principals with any of these roles.
	UnlessRoles []string `yaml:"unless_roles"`
	// DenyStatus answers a response that is not the caller's: 404 (default, existence not revealed) or 403.
	DenyStatus int `yaml:"deny_status"`
	// Filter removes the elements not owned from an array response instead of denying the whole response.
	Filter bool `yaml:"filter"`
}

// UnlessRolesAll returns unless_role and unless_roles together.
func (o *AuthzOwnerResponse) UnlessRolesAll() []string {
	out := append([]string(nil), o.UnlessRoles...)
	if o.UnlessRole != "" {
		out = append(out, o.UnlessRole)
	}
	return out
}

// AuthzOwner is the object-ownership rule.
type AuthzOwner struct {
	// Param is the id parameter name (checked in path, query and body).
	Param string `yaml:"param"`
	// Claim is the principal claim holding the caller's id (or list of ids): sub, or a token claim.
	Claim string `yaml:"claim"`
	// UnlessRole skips the check for principals with this role.
	UnlessRole string `yaml:"unless_role"`
	// UnlessRoles skips the check for principals with any of these roles.
	UnlessRoles []string `yaml:"unless_roles"`
}

// Authz defaults.
const (
	AuthzDefaultCELCostLimit = 10_000
)

// setDefaults fills unset fields of Authz before decoding overwrites them.
func (c *Authz) setDefaults() {
	c.Default = "authenticated"
	c.CELCostLimit = AuthzDefaultCELCostLimit
	c.CELTimeout = Duration(20e6) // 20ms
}

// validate reports problems in Authz that need no spec; rule keys and CEL
// expressions are compiled against the spec by the gateway's Build.
func (c *Authz) validate(p *Problems, path string) {
	switch c.Default {
	case "deny", "authenticated", "public":
	default:
		p.Errorf(joinPath(path, "default"), "default must be deny, authenticated or public, not %q", c.Default)
	}
	if c.Default == "public" {
		p.Warnf(joinPath(path, "default"), "default public: every operation without a rule is open to anonymous callers")
	}
	switch c.Mode {
	case "", ModeEnforce, ModeMonitor:
	default:
		p.Errorf(joinPath(path, "mode"), "mode must be enforce or monitor, not %q", c.Mode)
	}
	if c.CELCostLimit == 0 {
		p.Errorf(joinPath(path, "cel_cost_limit"), "cel_cost_limit must be positive")
	}
	if c.CELTimeout <= 0 {
		p.Errorf(joinPath(path, "cel_timeout"), "cel_timeout must be positive")
	}
	for key, r := range c.Rules {
		rp := joinPath(joinPath(path, "rules"), key)
		if r == nil {
			p.Errorf(rp, "empty rule")
			continue
		}
		r.validate(p, rp, key)
	}
}

func (r *AuthzRule) validate(p *Problems, path, key string) {
	if strings.TrimSpace(key) != key || key == "" {
		p.Errorf(path, "rule key %q has surrounding spaces", key)
	}
	group := strings.HasPrefix(key, "tag:") || strings.HasPrefix(key, "path:")
	conds := 0
	for _, b := range []bool{r.Authenticated, len(r.Roles) > 0, len(r.RolesAll) > 0, len(r.Scopes) > 0, strings.TrimSpace(r.Allow) != "", r.Owner != nil, r.OwnerResponse != nil} {
		if b {
			conds++
		}
	}
	switch {
	case r.Public && group:
		p.Errorf(joinPath(path, "public"), "public is only allowed on an operation key, not on a tag or path group")
	case r.Public && conds > 0:
		p.Errorf(joinPath(path, "public"), "public cannot be combined with other conditions")
	case !r.Public && conds == 0:
		p.Errorf(path, "rule has no condition (use public, authenticated, roles, roles_all, scopes, allow, owner or owner_response)")
	case r.Authenticated && conds > 1:
		p.Errorf(joinPath(path, "authenticated"), "authenticated is implied by the other conditions; drop it")
	}
	for f, list := range map[string][]string{"roles": r.Roles, "roles_all": r.RolesAll, "scopes": r.Scopes} {
		for i, v := range list {
			if strings.TrimSpace(v) == "" || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
				p.Errorf(joinPath(path, f)+"["+itoa(i)+"]", "%q is empty or contains spaces", v)
			}
		}
	}
	if r.Allow != "" && strings.TrimSpace(r.Allow) == "" {
		p.Errorf(joinPath(path, "allow"), "allow is blank")
	}
	if o := r.Owner; o != nil {
		op := joinPath(path, "owner")
		if o.Param == "" {
			p.Errorf(joinPath(op, "param"), "owner.param is required (the id parameter name)")
		}
		if o.Claim == "" {
			p.Errorf(joinPath(op, "claim"), "owner.claim is required (e.g. sub)")
		}
	}
	if o := r.OwnerResponse; o != nil {
		op := joinPath(path, "owner_response")
		if group {
			p.Errorf(op, "owner_response is only allowed on an operation key, not on a tag or path group")
		}
		if o.Field != "" && !strings.HasPrefix(o.Field, "/") {
			p.Errorf(joinPath(op, "field"), "field must be a JSON pointer such as /owner_id, not %q", o.Field)
		}
		if strings.Contains(o.Field, "~") {
			for i := 0; i < len(o.Field); i++ {
				if o.Field[i] == '~' && (i+1 >= len(o.Field) || (o.Field[i+1] != '0' && o.Field[i+1] != '1')) {
					p.Errorf(joinPath(op, "field"), "field %q: '~' must be followed by 0 or 1 (JSON pointer escape)", o.Field)
					break
				}
			}
		}
		if o.Claim == "" {
			p.Errorf(joinPath(op, "claim"), "owner_response.claim is required (e.g. sub)")
		}
		switch o.DenyStatus {
		case 0, 403, 404:
		default:
			p.Errorf(joinPath(op, "deny_status"), "deny_status must be 404 or 403, not %d", o.DenyStatus)
		}
		for i, v := range o.UnlessRolesAll() {
			if strings.TrimSpace(v) == "" {
				p.Errorf(joinPath(op, "unless_roles")+"["+itoa(i)+"]", "empty role")
			}
		}
	}
}

// UnlessRolesAll returns unless_role and unless_roles together.
func (o *AuthzOwner) UnlessRolesAll() []string {
	out := append([]string(nil), o.UnlessRoles...)
	if o.UnlessRole != "" {
		out = append(out, o.UnlessRole)
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
