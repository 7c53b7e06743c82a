// Package celpolicy compiles authorization rules written in CEL (the Common
// Expression Language) once, type-checked against the operation they guard,
// and evaluates them per request under a cost limit and a timeout.
//
// Why CEL (github.com/google/cel-go): it is not Turing complete, its programs
// are type-checked before they run and their cost can be bounded, so a rule
// cannot hang or crash the gateway and a type error such as comparing an
// integer path parameter to a string claim is found when the config loads,
// not in production. Like caddy's celmatcher, every expression is compiled
// exactly once (Compile); Program is immutable and safe for concurrent use.
//
// The environment a rule sees:
//
//	principal.authenticated  bool
//	principal.sub            string   ("" when anonymous)
//	principal.issuer         string
//	principal.method         string   ("jwt", "api_key", ...)
//	principal.roles          list(string)
//	principal.scopes         list(string)
//	principal.claims         map(string, dyn)   (JSON-decoded token claims)
//	request.method           string   (upper case)
//	request.operation        string   (operationId, or "METHOD /template")
//	request.template         string   (spec path template)
//	request.path.<name>      int | double | bool | string, typed from the spec
//	request.query            map(string, list(string))
//	request.headers          map(string, string)   (lower-case names, values joined by ", ")
//	request.body             dyn      (parsed JSON body; null when none)
//	request.ip               string   (client IP as resolved by the gateway)
//	request.time             timestamp
//
// request.path declares only the parameters the operation has, so a typo
// (request.path.usr_id) is a compile error too.
package celpolicy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/gatehouse/gatehouse/authn"
)

// Type is the CEL type of a request.path parameter.
type Type int

// Parameter types. The zero value is String, the safe fallback for a
// parameter whose schema declares no scalar type.
const (
	String Type = iota
	Int
	Double
	Bool
)

// String returns the CEL type name: "int", "double", "bool" or "string".
func (t Type) String() string {
	switch t {
	case Int:
		return "int"
	case Double:
		return "double"
	case Bool:
		return "bool"
	}
	return "string"
}

func (t Type) cel() *cel.Type {
	switch t {
	case Int:
		return cel.IntType
	case Double:
		return cel.DoubleType
	case Bool:
		return cel.BoolType
	}
	return cel.StringType
}

// Defaults for Options.
const (
	DefaultCostLimit uint64 = 10_000
	DefaultTimeout          = 20 * time.Millisecond
)

// ErrCompile wraps every compile-time failure (syntax, type, non-bool result).
var ErrCompile = errors.New("cel: compile")

// ErrEval wraps every evaluation failure (cost limit, timeout, runtime error,
// missing value). Callers must treat it as a denial.
var ErrEval = errors.New("cel: evaluate")

// Options bound evaluation. Zero values select the defaults.
type Options struct {
	// CostLimit caps the runtime cost of one evaluation (cel.CostLimit).
	CostLimit uint64
	// Timeout caps wall time for rules that iterate (comprehensions); a rule
	// without loops is already bounded by CostLimit.
	Timeout time.Duration
}

// Compiler compiles expressions against environments keyed by the path
// parameter signature, caching both. It is safe for concurrent use.
type Compiler struct {
	opts Options
	base *cel.Env

	mu    sync.Mutex
	envs  map[string]*cel.Env
	progs map[string]*Program
}

// NewCompiler returns a Compiler with the base environment.
func NewCompiler(o Options) (*Compiler, error) {
	if o.CostLimit == 0 {
		o.CostLimit = DefaultCostLimit
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	base, err := NewEnv(ScopeRule)
	if err != nil {
		return nil, err
	}
	return &Compiler{opts: o, base: base, envs: map[string]*cel.Env{}, progs: map[string]*Program{}}, nil
}

func signature(params map[string]Type) string {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(params[n].String())
		b.WriteByte(';')
	}
	return b.String()
}

func (c *Compiler) env(sig string, params map[string]Type) (*cel.Env, error) {
	if e, ok := c.envs[sig]; ok {
		return e, nil
	}
	opts := make([]cel.EnvOption, 0, len(params))
	for n, t := range params {
		opts = append(opts, cel.Variable("request.path."+n, t.cel()))
	}
	e, err := c.base.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	c.envs[sig] = e
	return e, nil
}

// Program is a compiled, type-checked rule. Immutable; safe for concurrent use.
type Program struct {
	expr  string
	prg   cel.Program
	loops bool
	// uses lists the top-level variables the rule references, so a request
	// pays only for what the rule reads (e.g. the body is parsed only when
	// request.body is referenced).
	uses     map[string]bool
	timeout  time.Duration
	pathDecl map[string]Type
}

// Compile type-checks expr against the base environment plus request.path
// parameters typed by params; the result must be bool. Errors wrap ErrCompile
// and carry CEL's position-annotated message.
func (c *Compiler) Compile(expr string, params map[string]Type) (*Program, error) {
	sig := signature(params)
	c.mu.Lock()
	defer c.mu.Unlock()
	key := sig + "\x00" + expr
	if p, ok := c.progs[key]; ok {
		return p, nil
	}
	env, err := c.env(sig, params)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msg := strings.TrimSpace(iss.Err().Error())
		if strings.Contains(msg, "undeclared reference to 'request'") {
			msg += " (request.path declares: " + declared(params) + ")"
		}
		return nil, fmt.Errorf("%w: %s", ErrCompile, msg)
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("%w: result type is %s, want bool", ErrCompile, ast.OutputType())
	}
	prg, err := env.Program(ast,
		cel.CostLimit(c.opts.CostLimit),
		cel.InterruptCheckFrequency(100),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompile, err)
	}
	p := &Program{expr: expr, prg: prg, uses: map[string]bool{}, timeout: c.opts.Timeout, pathDecl: params}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if r.Name != "" {
			p.uses[r.Name] = true
		}
	}
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind {
			p.loops = true
		}
	}))
	c.progs[key] = p
	return p, nil
}

func declared(params map[string]Type) string {
	if len(params) == 0 {
		return "nothing"
	}
	names := make([]string, 0, len(params))
	for n, t := range params {
		names = append(names, n+" "+t.String())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Uses reports whether the program references the variable name, e.g.
// "request.body".
func (p *Program) Uses(name string) bool { return p.uses[name] }

// String returns the source expression.
func (p *Program) String() string { return p.expr }

// Input is what one evaluation sees. Lazy fields are called only when the
// rule references them; an error from one of them fails the evaluation.
type Input struct {
	Principal *authn.Principal // nil: anonymous
	Method    string
	Operation string
	Template  string
	// Path holds request.path values already converted to their declared
	// types (int64, float64, bool, string).
	Path    map[string]any
	Query   func() (map[string][]string, error)
	Headers http.Header
	Body    func() (any, error)
	IP      string
	Time    time.Time
}

// Eval runs the program. It returns (true, nil) only when the rule evaluates
// to true; every failure wraps ErrEval and must be treated as a denial.
func (p *Program) Eval(ctx context.Context, in *Input) (bool, error) {
	act := &activation{in: in}
	var out ref.Val
	var err error
	if p.loops {
		tctx, cancel := context.WithTimeout(ctx, p.timeout)
		out, _, err = p.prg.ContextEval(tctx, act)
		cancel()
	} else {
		out, _, err = p.prg.Eval(act)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrEval, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%w: result is %s, want bool", ErrEval, out.Type())
	}
	return bool(b), nil
}

// activation resolves variables lazily from Input.
type activation struct {
	in *Input
}

var (
	emptyStrings = []string{}
	emptyClaims  = map[string]any{}
)

func (a *activation) ResolveName(name string) (any, bool) {
	in := a.in
	p := in.Principal
	switch name {
	case "principal.authenticated":
		return p != nil, true
	case "principal.sub":
		if p == nil {
			return "", true
		}
		return p.Subject, true
	case "principal.issuer":
		if p == nil {
			return "", true
		}
		return p.Issuer, true
	case "principal.method":
		if p == nil {
			return "", true
		}
		return p.Method, true
	case "principal.roles":
		if p == nil || p.Roles == nil {
			return emptyStrings, true
		}
		return p.Roles, true
	case "principal.scopes":
		if p == nil || p.Scopes == nil {
			return emptyStrings, true
		}
		return p.Scopes, true
	case "principal.claims":
		if p == nil || p.Claims == nil {
			return emptyClaims, true
		}
		return p.Claims, true
	case "request.method":
		return in.Method, true
	case "request.operation":
		return in.Operation, true
	case "request.template":
		return in.Template, true
	case "request.ip":
		return in.IP, true
	case "request.time":
		return in.Time, true
	case "request.query":
		if in.Query == nil {
			return map[string][]string{}, true
		}
		q, err := in.Query()
		if err != nil {
			return types.WrapErr(fmt.Errorf("request.query: %w", err)), true
		}
		return q, true
	case "request.headers":
		h := make(map[string]string, len(in.Headers))
		for k, v := range in.Headers {
			h[strings.ToLower(k)] = strings.Join(v, ", ")
		}
		return h, true
	case "request.body":
		if in.Body == nil {
			return types.NullValue, true
		}
		b, err := in.Body()
		if err != nil {
			return types.WrapErr(fmt.Errorf("request.body: %w", err)), true
		}
		if b == nil {
			return types.NullValue, true
		}
		return b, true
	}
	if n, ok := strings.CutPrefix(name, "request.path."); ok {
		v, ok := in.Path[n]
		if !ok {
			// Declared but absent: an error, never a zero value that could compare equal.
			return types.NewErr("request.path.%s: no value", n), true
		}
		return v, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
