// Package policy is gatehouse's authorizer: a rule set compiled once per
// operation of the API contract, evaluated per request, usable as the
// gateway's authz stage or as plain net/http middleware in a Go service.
//
// A request is decided against every rule that addresses its operation:
//
//   - an operation rule (key: operationId or "METHOD /template"),
//   - every tag rule ("tag:admin") whose tag the operation carries,
//   - every path rule ("path:/admin/**") whose pattern covers its template.
//
// ALL matching rules must allow: a more specific rule can never weaken a
// group rule, so an admin group stays protected when a new operation joins it.
// An operation no rule addresses gets the default stance (deny,
// authenticated or public). Within one rule every condition given must hold:
// roles (any of), roles_all, scopes (all of), owner and the CEL allow
// expression. An anonymous request that needs a principal gets 401; every
// other denial is 403. Any error (bad id spelling, unparsable body, CEL
// runtime error or cost limit) denies: authorization fails closed.
//
// An operation rule may also carry OwnerResponse, checked on the way back:
// the 2xx JSON response of a read is buffered (bounded) and must belong to
// the caller, or the client gets a generic 404 and never sees the body (see
// OwnerResponse). Operations without it pay one nil check.
//
// Why compile per operation: rules reference request.path parameters whose
// types come from the spec, so a rule shared by a tag is type-checked against
// each operation it covers, once, in New; a request does one map lookup.
package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/problem"
)

// Stance is what an operation no rule addresses gets. The zero value is
// Deny: a policy nobody configured fails closed.
type Stance int

// Default stances.
const (
	Deny Stance = iota
	Authenticated
	Public
)

// String returns the config spelling: "deny", "authenticated" or "public".
func (s Stance) String() string {
	switch s {
	case Authenticated:
		return "authenticated"
	case Public:
		return "public"
	}
	return "deny"
}

// ParseStance parses "deny", "authenticated" or "public".
func ParseStance(s string) (Stance, error) {
	switch s {
	case "deny":
		return Deny, nil
	case "authenticated":
		return Authenticated, nil
	case "public":
		return Public, nil
	}
	return Deny, fmt.Errorf("unknown default %q: want deny, authenticated or public", s)
}

// Parameter locations.
const (
	InPath  = "path"
	InQuery = "query"
	InBody  = "body" // a top-level property of the JSON request body
)

// Param is one declared parameter of an operation.
type Param struct {
	Name string
	In   string // InPath, InQuery or InBody (others are ignored)
	Type celpolicy.Type
}

// Operation describes one operation of the API, as the policy needs it. The
// gateway builds these from the OpenAPI spec; a Go service declares them.
type Operation struct {
	ID       string // operationId, or "METHOD /template"
	Method   string // upper case
	Template string // e.g. "/users/{user_id}"
	Tags     []string
	Params   []Param
	// JSONBody tells that the operation accepts a JSON request body.
	JSONBody bool
	// OwnerField is the default OwnerResponse.Field (a JSON pointer), e.g.
	// from the spec extension x-gatehouse-owner-field.
	OwnerField string
	// ResponseType, when set, returns the declared type of the 2xx JSON
	// response value at a JSON pointer (String when unknown).
	ResponseType func(pointer string) celpolicy.Type
}

// Rule is one authorization rule, addressed by Key.
type Rule struct {
	// Key is an operationId, "METHOD /template", "tag:NAME" or
	// "path:/PATTERN" (segments literal, "*" for one, trailing "**" for any).
	Key string
	// Public allows anonymous callers. Only on an operation key and only
	// alone; it cannot override a matching tag or path rule.
	Public bool
	// Authenticated allows any authenticated principal (no other condition).
	Authenticated bool
	// Roles: the principal needs at least one of them.
	Roles []string
	// RolesAll: the principal needs every one of them.
	RolesAll []string
	// Scopes: the principal needs every one of them.
	Scopes []string
	// Allow is a CEL expression that must evaluate to true (see celpolicy).
	Allow string
	// Owner requires the request's id parameter to be the principal's own.
	Owner *Owner
	// OwnerResponse requires the object in the 2xx JSON response to be the
	// principal's own (reads only; operation keys only).
	OwnerResponse *OwnerResponse
}

// Owner is the object-ownership rule: every occurrence of Param in the
// request (path, query, JSON body, in any spelling an upstream might bind)
// must equal, canonically, the principal's Claim ("sub" is the subject;
// other names are token claims, a dotted name walks nested claims). When the
// claim is a list, each occurrence must be a member of it (nested resources:
// claim org_ids, param org_id). A principal holding one of UnlessRoles skips
// the check.
type Owner struct {
	Param       string
	Claim       string
	UnlessRoles []string
}

// Options configures New.
type Options struct {
	// Default applies to operations no rule addresses.
	Default Stance
	// Operations lists every operation the API has. Requests for an
	// operation not listed are denied.
	Operations []Operation
	// Rules, evaluated as described in the package doc.
	Rules []Rule
	// Resolve returns the operation a request targets. nil: the route the
	// gateway's router put in the context (gatehouse.RouteFrom). Go services
	// can pass PatternRoute with Go 1.22 ServeMux patterns.
	Resolve func(*http.Request) *gatehouse.Route
	// ModeFor returns the enforce/monitor mode for a route. nil: route.Mode.
	ModeFor func(*gatehouse.Route) gatehouse.Mode
	// ClientIP returns the client address for request.ip. nil: RemoteAddr's host.
	ClientIP func(*http.Request) string
	// Now is the clock for request.time. nil: time.Now.
	Now func() time.Time
	// MaxBody bounds how much of a body is read to check ownership or feed
	// request.body (default 1 MiB). A larger body is denied.
	MaxBody int64
	// JSONLimits bound the request body's JSON (jsonx; zero fields take
	// jsonx's defaults). Give every stage of a chain the same limits: the
	// body is then parsed once (httpx.JSON) and all of them judge one view.
	JSONLimits jsonx.Limits
	// MaxResponseBody bounds a response buffered for an OwnerResponse rule
	// (default MaxBody). A larger response is answered 502.
	MaxResponseBody int64
	// CEL bounds rule evaluation (cost limit, timeout).
	CEL celpolicy.Options
	// Challenge is the WWW-Authenticate value sent with 401 (default "Bearer").
	Challenge string
	// Logger receives one Info line per denial. nil: discard.
	Logger *slog.Logger
	// Metrics, when set, registers gatehouse_authz_decisions_total{rule,outcome}.
	Metrics prometheus.Registerer
}

// RuleError is a rule New could not compile. Field names the rule field
// ("allow", "owner.param", "public", ...) or is empty for the key itself;
// Operation names the operation it was compiled for, when relevant.
type RuleError struct {
	Key       string
	Field     string
	Operation string
	Err       error
}

// Error names the rule, the field and the operation, then the cause.
func (e *RuleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule %q", e.Key)
	if e.Field != "" {
		b.WriteString(" " + e.Field)
	}
	if e.Operation != "" {
		fmt.Fprintf(&b, " (operation %s)", e.Operation)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the cause (e.g. wrapping celpolicy.ErrCompile).
func (e *RuleError) Unwrap() error { return e.Err }

// Policy is a compiled rule set. It is immutable after New and safe for
// concurrent use; it implements authz.Authorizer.
type Policy struct {
	opts        Options
	byRoute     map[opKey]*compiledOp // by method and template
	byID        map[string]*compiledOp
	ops         []*compiledOp
	log         *slog.Logger
	counter     *prometheus.CounterVec
	now         func() time.Time
	maxBody     int64
	jsonLim     jsonx.Limits
	maxRespBody int64
	resolve     func(*http.Request) *gatehouse.Route
	clientIP    func(*http.Request) string
}

var _ authz.Authorizer = (*Policy)(nil)

// compiledOp is one operation with the rules that address it.
type compiledOp struct {
	op        Operation
	rules     []*compiledRule    // group rules first, then the operation rule
	public    bool               // anonymous callers allowed
	deny      bool               // default deny
	label     string             // rule label for "allow" metrics
	allowed   prometheus.Counter // the (label, "allow") counter, looked up once in New; nil without metrics
	paramTyp  map[string]celpolicy.Type
	body      bool            // some rule reads the body
	respOwner *respOwnerCheck // response-side ownership, nil for most
}

// compiledRule is one rule compiled for one operation.
type compiledRule struct {
	key       string
	public    bool
	roles     []string
	rolesAll  []string
	scopes    []string
	allow     *celpolicy.Program
	owner     *ownerCheck
	respOwner *respOwnerCheck
}

func routeKey(method, template string) string { return method + " " + template }

// opKey indexes byRoute without building a "METHOD template" string per request.
type opKey struct{ method, template string }

// New compiles opts. Every CEL expression is compiled and type-checked for
// each operation its rule covers; a key that addresses no operation, a
// public rule combined with other conditions or shadowed by a group rule, and
// an owner parameter the operation does not declare are errors (*RuleError).
func New(opts Options) (*Policy, error) {
	p := &Policy{opts: opts, byRoute: map[opKey]*compiledOp{}, byID: map[string]*compiledOp{},
		log: opts.Logger, now: opts.Now, maxBody: opts.MaxBody, jsonLim: opts.JSONLimits, resolve: opts.Resolve, clientIP: opts.ClientIP}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "authz")
	if p.now == nil {
		p.now = time.Now
	}
	if p.maxBody <= 0 {
		p.maxBody = 1 << 20
	}
	p.maxRespBody = opts.MaxResponseBody
	if p.maxRespBody <= 0 {
		p.maxRespBody = p.maxBody
	}
	if p.resolve == nil {
		p.resolve = func(r *http.Request) *gatehouse.Route { return gatehouse.RouteFrom(r.Context()) }
	}
	if p.clientIP == nil {
		p.clientIP = remoteHost
	}
	if p.opts.Challenge == "" {
		p.opts.Challenge = "Bearer"
	}
	if opts.Default < Deny || opts.Default > Public {
		return nil, fmt.Errorf("authz: unknown default stance %d", opts.Default)
	}
	cc, err := celpolicy.NewCompiler(opts.CEL)
	if err != nil {
		return nil, err
	}

	for i := range opts.Operations {
		op := opts.Operations[i]
		if op.Method == "" || op.Template == "" {
			return nil, fmt.Errorf("authz: operation %q has no method or template", op.ID)
		}
		if op.ID == "" {
			op.ID = routeKey(op.Method, op.Template)
		}
		co := &compiledOp{op: op, paramTyp: map[string]celpolicy.Type{}}
		for _, prm := range op.Params {
			if prm.In == InPath {
				co.paramTyp[prm.Name] = prm.Type
			}
		}
		rk := opKey{op.Method, op.Template}
		if _, dup := p.byRoute[rk]; dup {
			return nil, fmt.Errorf("authz: operation %s listed twice", routeKey(op.Method, op.Template))
		}
		p.byRoute[rk] = co
		if _, dup := p.byID[op.ID]; dup {
			return nil, fmt.Errorf("authz: operationId %q used twice", op.ID)
		}
		p.byID[op.ID] = co
		p.ops = append(p.ops, co)
	}

	// Compile rules in key order, for deterministic errors.
	rules := append([]Rule(nil), opts.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].Key < rules[j].Key })
	opRule := map[*compiledOp]string{}
	groups := map[*compiledOp][]*compiledRule{}
	specific := map[*compiledOp]*compiledRule{}
	for i := range rules {
		r := &rules[i]
		if i > 0 && rules[i-1].Key == r.Key {
			return nil, &RuleError{Key: r.Key, Err: errors.New("duplicate rule key")}
		}
		k, err := parseKey(r.Key)
		if err != nil {
			return nil, &RuleError{Key: r.Key, Err: err}
		}
		if err := checkShape(r, k); err != nil {
			return nil, err
		}
		matched := 0
		for _, co := range p.ops {
			if !k.matches(&co.op) {
				continue
			}
			matched++
			cr, err := compileRule(cc, r, co)
			if err != nil {
				return nil, err
			}
			if k.kind.group() {
				groups[co] = append(groups[co], cr)
				continue
			}
			if prev, ok := opRule[co]; ok {
				return nil, &RuleError{Key: r.Key, Err: fmt.Errorf("operation %s is already addressed by rule %q", co.op.ID, prev)}
			}
			opRule[co] = r.Key
			specific[co] = cr
			co.respOwner = cr.respOwner
		}
		if matched == 0 {
			return nil, &RuleError{Key: r.Key, Err: errors.New("matches no operation in the spec (typo?)")}
		}
	}

	for _, co := range p.ops {
		co.rules = append(co.rules, groups[co]...)
		if s := specific[co]; s != nil {
			if s.public && len(groups[co]) > 0 {
				return nil, &RuleError{Key: s.key, Field: "public",
					Err: fmt.Errorf("operation %s is also covered by group rule %q, which a public rule cannot override", co.op.ID, groups[co][0].key)}
			}
			co.rules = append(co.rules, s)
		}
		switch {
		case len(co.rules) == 0:
			co.label = "default"
			co.public = opts.Default == Public
			co.deny = opts.Default == Deny
		default:
			co.label = co.rules[len(co.rules)-1].key
			co.public = len(co.rules) == 1 && co.rules[0].public
		}
		for _, cr := range co.rules {
			if cr.owner != nil || (cr.allow != nil && cr.allow.Uses("request.body")) {
				co.body = true
			}
		}
	}

	if opts.Metrics != nil {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_decisions_total",
			Help: "Authorization decisions by deciding rule and outcome (allow, deny, unauthenticated, monitor).",
		}, []string{"rule", "outcome"})
		if err := opts.Metrics.Register(cv); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("authz: register metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("authz: register metrics: %w", err)
			}
			cv = existing
		}
		p.counter = cv
		for _, co := range p.ops {
			co.allowed = cv.WithLabelValues(co.label, "allow")
		}
	}
	return p, nil
}

// checkShape validates a rule's fields independently of operations.
func checkShape(r *Rule, k ruleKey) error {
	conds := 0
	for _, b := range []bool{r.Authenticated, len(r.Roles) > 0, len(r.RolesAll) > 0, len(r.Scopes) > 0, r.Allow != "", r.Owner != nil, r.OwnerResponse != nil} {
		if b {
			conds++
		}
	}
	if r.Public {
		if k.kind.group() {
			return &RuleError{Key: r.Key, Field: "public", Err: errors.New("public is only allowed on an operation key, not on a tag or path group")}
		}
		if conds > 0 {
			return &RuleError{Key: r.Key, Field: "public", Err: errors.New("public cannot be combined with other conditions")}
		}
		return nil
	}
	if conds == 0 {
		return &RuleError{Key: r.Key, Err: errors.New("rule has no condition (use public, authenticated, roles, roles_all, scopes, allow, owner or owner_response)")}
	}
	if r.Authenticated && conds > 1 {
		return &RuleError{Key: r.Key, Field: "authenticated", Err: errors.New("authenticated is implied by the other conditions; drop it")}
	}
	for f, list := range map[string][]string{"roles": r.Roles, "roles_all": r.RolesAll, "scopes": r.Scopes} {
		for _, v := range list {
			if strings.TrimSpace(v) == "" {
				return &RuleError{Key: r.Key, Field: f, Err: errors.New("empty entry")}
			}
		}
	}
	if o := r.Owner; o != nil {
		if o.Param == "" {
			return &RuleError{Key: r.Key, Field: "owner.param", Err: errors.New("required")}
		}
		if o.Claim == "" {
			return &RuleError{Key: r.Key, Field: "owner.claim", Err: errors.New("required")}
		}
	}
	if o := r.OwnerResponse; o != nil {
		if k.kind.group() {
			return &RuleError{Key: r.Key, Field: "owner_response", Err: errors.New("owner_response is only allowed on an operation key, not on a tag or path group")}
		}
		if o.Claim == "" {
			return &RuleError{Key: r.Key, Field: "owner_response.claim", Err: errors.New("required")}
		}
	}
	return nil
}

func compileRule(cc *celpolicy.Compiler, r *Rule, co *compiledOp) (*compiledRule, error) {
	cr := &compiledRule{key: r.Key, public: r.Public, roles: r.Roles, rolesAll: r.RolesAll, scopes: r.Scopes}
	if r.Allow != "" {
		prg, err := cc.Compile(r.Allow, co.paramTyp)
		if err != nil {
			return nil, &RuleError{Key: r.Key, Field: "allow", Operation: co.op.ID, Err: err}
		}
		cr.allow = prg
	}
	if r.Owner != nil {
		oc, err := newOwnerCheck(r.Owner, &co.op)
		if err != nil {
			return nil, &RuleError{Key: r.Key, Field: "owner.param", Operation: co.op.ID, Err: err}
		}
		cr.owner = oc
	}
	if r.OwnerResponse != nil {
		rc, err := newRespOwnerCheck(r.Key, r.OwnerResponse, &co.op)
		if err != nil {
			return nil, &RuleError{Key: r.Key, Field: "owner_response", Operation: co.op.ID, Err: err}
		}
		cr.respOwner = rc
	}
	return cr, nil
}

// PublicOperations lists, sorted, the operations whose effective rule lets
// anonymous callers in (explicit public rules, or no rule under a public
// default). `gatehouse validate` prints them as warnings.
func (p *Policy) PublicOperations() []string {
	var out []string
	for _, co := range p.ops {
		if co.public {
			out = append(out, co.op.ID)
		}
	}
	sort.Strings(out)
	return out
}

// Authorize decides r for principal pr (nil: anonymous). It returns nil to
// allow or an *authz.Denial (wrapping authz.ErrDenied, and
// authz.ErrUnauthenticated for 401). ctx bounds CEL evaluation.
func (p *Policy) Authorize(ctx context.Context, pr *authn.Principal, r *http.Request) error {
	_, d := p.decide(ctx, pr, r)
	if d == nil {
		return nil
	}
	return d
}

func (p *Policy) lookup(rt *gatehouse.Route) *compiledOp {
	if co := p.byRoute[opKey{rt.Method, rt.Template}]; co != nil {
		return co
	}
	if rt.Template == "" && rt.OperationID != "" {
		return p.byID[rt.OperationID]
	}
	return nil
}

func (p *Policy) decide(ctx context.Context, pr *authn.Principal, r *http.Request) (*compiledOp, *authz.Denial) {
	rt := p.resolve(r)
	if rt == nil {
		return nil, &authz.Denial{Rule: "route", Reason: "request was not matched to an operation", Status: http.StatusForbidden}
	}
	co := p.lookup(rt)
	if co == nil {
		return nil, &authz.Denial{Rule: "route", Reason: fmt.Sprintf("operation %s %q is not in the policy", rt.Method, rt.Template), Status: http.StatusForbidden}
	}
	if co.public {
		return co, nil
	}
	if co.deny {
		return co, &authz.Denial{Rule: "default", Reason: "default deny: no rule addresses " + co.op.ID, Status: http.StatusForbidden}
	}
	if pr == nil {
		rule := co.label
		return co, &authz.Denial{Rule: rule, Reason: "authentication required", Status: http.StatusUnauthorized}
	}
	if len(co.rules) == 0 {
		return co, nil // default: authenticated
	}
	ev := &evalCtx{p: p, pr: pr, r: r, rt: rt, co: co}
	for _, cr := range co.rules {
		if reason := ev.check(ctx, cr); reason != "" {
			return co, &authz.Denial{Rule: cr.key, Reason: reason, Status: http.StatusForbidden}
		}
	}
	return co, nil
}

// Middleware returns the net/http middleware: it authorizes each request
// with the principal from the context (authn.PrincipalFrom), answers a denial
// with a generic 401/403 problem body in enforce mode, and records it
// (gatehouse.Record, log, metrics) in both modes.
func (p *Policy) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		pr := authn.PrincipalFrom(ctx)
		co, d := p.decide(ctx, pr, r)
		if d == nil {
			if co.allowed != nil {
				co.allowed.Inc() // p.count without hashing the labels per request
			} else {
				p.count(co.label, "allow")
			}
			p.serve(next, w, r, co, pr)
			return
		}
		mode := p.modeOf(r)
		op := ""
		if co != nil {
			op = co.op.ID
		}
		block := gatehouse.Decide(ctx, mode, "authz", d.Rule+": "+d.Reason)
		outcome := "deny"
		if d.Status == http.StatusUnauthorized {
			outcome = "unauthenticated"
		}
		if !block {
			outcome = "monitor"
		}
		p.count(d.Rule, outcome)
		p.log.LogAttrs(ctx, slog.LevelInfo, "authz denied",
			slog.String("operation", op), slog.String("rule", d.Rule), slog.String("reason", d.Reason),
			slog.Int("status", d.Status), slog.String("mode", mode.String()), slog.Bool("blocked", block))
		if !block {
			p.serve(next, w, r, co, pr)
			return
		}
		if d.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", p.opts.Challenge)
		}
		problem.Write(w, r, d.Status)
	})
}

// modeOf returns the enforce/monitor mode for r.
func (p *Policy) modeOf(r *http.Request) gatehouse.Mode {
	rt := p.resolve(r)
	if rt == nil {
		return gatehouse.Enforce
	}
	if p.opts.ModeFor != nil {
		return p.opts.ModeFor(rt)
	}
	return rt.Mode
}

// serve calls next, through the response-side ownership check when the
// operation has one (operations without it pay one nil check).
func (p *Policy) serve(next http.Handler, w http.ResponseWriter, r *http.Request, co *compiledOp, pr *authn.Principal) {
	if co == nil || co.respOwner == nil {
		next.ServeHTTP(w, r)
		return
	}
	rw, r2, finish := p.wrapResponse(w, r, co.respOwner, pr, p.modeOf(r))
	if finish == nil {
		next.ServeHTTP(w, r)
		return
	}
	next.ServeHTTP(rw, r2)
	finish()
}

func (p *Policy) count(rule, outcome string) {
	if p.counter != nil {
		p.counter.WithLabelValues(rule, outcome).Inc()
	}
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
