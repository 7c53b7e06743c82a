package celpolicy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Scope selects the part of gatehouse's one CEL vocabulary an environment
// declares. Every CEL expression in gatehouse (authz rules, rate-limit
// keys, the login failure condition) is type-checked against an
// environment built here, so a variable has one name and one type
// everywhere and the declarations are never kept in step by hand.
type Scope int

const (
	// ScopeRule is the environment of authz rules: every principal.* and
	// request.* variable of the package doc; request.path.<name> is added
	// per operation, typed from the spec, by Compiler.
	ScopeRule Scope = iota
	// ScopeKey is the environment of rate-limit keys: ScopeRule minus
	// request.body (parsing it for every request costs too much) and
	// request.time (a key must not change with the clock), with
	// request.path as one map(string, string) of raw parameter values (a
	// limit may span operations whose parameters differ).
	ScopeKey
	// ScopeResponse is the environment of a condition over the upstream's
	// answer (the login failure condition): response.status int,
	// response.headers map(string, string), response.body dyn.
	ScopeResponse
)

// variables returns the declarations of scope s.
func variables(s Scope) []cel.EnvOption {
	if s == ScopeResponse {
		return []cel.EnvOption{
			cel.Variable("response.status", cel.IntType),
			cel.Variable("response.headers", cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable("response.body", cel.DynType),
		}
	}
	strList := cel.ListType(cel.StringType)
	v := []cel.EnvOption{
		cel.Variable("principal.authenticated", cel.BoolType),
		cel.Variable("principal.sub", cel.StringType),
		cel.Variable("principal.issuer", cel.StringType),
		cel.Variable("principal.method", cel.StringType),
		cel.Variable("principal.roles", strList),
		cel.Variable("principal.scopes", strList),
		cel.Variable("principal.claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("request.method", cel.StringType),
		cel.Variable("request.operation", cel.StringType),
		cel.Variable("request.template", cel.StringType),
		cel.Variable("request.query", cel.MapType(cel.StringType, strList)),
		cel.Variable("request.headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("request.ip", cel.StringType),
	}
	if s == ScopeKey {
		return append(v, cel.Variable("request.path", cel.MapType(cel.StringType, cel.StringType)))
	}
	return append(v,
		cel.Variable("request.body", cel.DynType),
		cel.Variable("request.time", cel.TimestampType))
}

var envs [3]struct {
	once sync.Once
	env  *cel.Env
	err  error
}

// NewEnv returns the environment of scope s (built once per process and
// shared; a *cel.Env is safe for concurrent use). Optional syntax
// (principal.claims.?org.orValue("")) is on in every scope.
func NewEnv(s Scope) (*cel.Env, error) {
	if s < ScopeRule || s > ScopeResponse {
		return nil, fmt.Errorf("cel environment: unknown scope %d", s)
	}
	e := &envs[s]
	e.once.Do(func() {
		e.env, e.err = cel.NewEnv(append([]cel.EnvOption{cel.OptionalTypes()}, variables(s)...)...)
		if e.err != nil {
			e.err = fmt.Errorf("cel environment: %w", e.err)
		}
	})
	return e.env, e.err
}

// CompileError is a compile-time failure (syntax, unknown variable, type).
// Its message is CEL's, position-annotated; errors.Is(err, ErrCompile)
// holds.
type CompileError struct{ Msg string }

func (e *CompileError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrCompile) true.
func (e *CompileError) Is(target error) bool { return target == ErrCompile }

// ValueProgram is an expression compiled for its value rather than for an
// allow/deny decision (a rate-limit key, a condition the caller
// interprets). The caller checks OutputType and converts the result; the
// caller's activation resolves the variables of the scope. Immutable and
// safe for concurrent use.
type ValueProgram struct {
	expr string
	ast  *cel.Ast
	prg  cel.Program
}

// CompileValue parses and type-checks expr in scope s and plans it with a
// runtime cost limit. Errors are *CompileError.
func CompileValue(s Scope, expr string, costLimit uint64) (*ValueProgram, error) {
	env, err := NewEnv(s)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, &CompileError{Msg: strings.TrimSpace(iss.Err().Error())}
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, &CompileError{Msg: err.Error()}
	}
	return &ValueProgram{expr: expr, ast: ast, prg: prg}, nil
}

// OutputType is the checked result type.
func (p *ValueProgram) OutputType() *cel.Type { return p.ast.OutputType() }

// Ast is the checked expression (for callers that analyse which variables
// or map keys it reads).
func (p *ValueProgram) Ast() *cel.Ast { return p.ast }

// String returns the source expression.
func (p *ValueProgram) String() string { return p.expr }

// Eval runs the program on act; runtime failures (cost limit, a missing
// map key, a wrong dynamic type) are returned as errors, never panics.
func (p *ValueProgram) Eval(act interpreter.Activation) (ref.Val, error) {
	out, _, err := p.prg.Eval(act)
	return out, err
}
