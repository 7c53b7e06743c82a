package ratelimit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

// Bounds of a CEL key expression.
const (
	// CELCostLimit caps the runtime cost of one key evaluation
	// (cel.CostLimit); a key is on the hot path of every request, so the
	// bound is a tenth of the authz rules' default.
	CELCostLimit uint64 = 1000
	// MaxCELKeyLen bounds the bytes a CEL key contributes to the bucket key:
	// a longer result is replaced by its SHA-256 (in its own namespace), so
	// a huge header cannot make a huge key, and two long values that share a
	// prefix still get different buckets (truncation would merge them).
	MaxCELKeyLen = 256
)

// ErrCELKey wraps every compile-time failure of a cel: key (syntax, unknown
// variable, result type).
var ErrCELKey = errors.New("ratelimit: cel key")

// ErrCELEval wraps a CEL key's evaluation failure at request time (cost
// limit, missing map key such as an absent claim, wrong dynamic type). The
// request is then counted in the limit's fixed error bucket.
var ErrCELEval = errors.New("ratelimit: cel key evaluation")

// KeyCEL keys by the value of a CEL expression, compiled and type-checked
// once here. Variables (the names of the authz CEL rules):
//
//	principal.authenticated bool, principal.sub/.issuer/.method string,
//	principal.roles/.scopes list(string), principal.claims map(string, dyn),
//	request.method/.operation/.template string, request.path map(string, string),
//	request.query map(string, list(string)), request.headers map(string, string)
//	(lower-case names, repeated values joined by ", "), request.ip string
//	(the client address after trusted-proxy handling).
//
// The result must be a string, int, uint or bool (or dyn that is one of
// these, or an integral number, at run time); it is converted canonically
// (decimal, "true"/"false"). Results longer than MaxCELKeyLen bytes are
// replaced by their SHA-256. Evaluation is bounded by CELCostLimit. When
// the expression fails on a request (an absent claim or header, the cost
// limit, a wrong dynamic type) the key part is one fixed error bucket per
// limit, which no result can spell, and Key.AppendErr returns the error
// wrapped in ErrCELEval: the request is limited, never let through
// unlimited. Optional syntax (principal.claims.?org.orValue("")) avoids
// errors for absent values.
func KeyCEL(expr string, ip ClientIPFunc) (Key, error) {
	// One vocabulary with the authz rules (authz/celpolicy), in the key
	// scope: no request.body, no request.time, request.path as a map.
	prg, err := celpolicy.CompileValue(celpolicy.ScopeKey, expr, CELCostLimit)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrCELKey, err)
	}
	switch t := prg.OutputType(); {
	case t.IsExactType(cel.StringType), t.IsExactType(cel.IntType), t.IsExactType(cel.UintType),
		t.IsExactType(cel.BoolType), t.IsExactType(cel.DynType):
	default:
		return Key{}, fmt.Errorf("%w: result type is %s, want string, int, uint or bool", ErrCELKey, t)
	}
	ip = orPeer(ip)
	hdrs := headerNames(prg.Ast(), "request.headers")
	return Key{kind: "cel", parts: []keyPart{func(r *http.Request, dst []byte) ([]byte, error) {
		v, err := evalCEL(prg, r, ip, hdrs)
		if err != nil {
			return append(dst, 'E'), err
		}
		if len(v) > MaxCELKeyLen {
			sum := sha256.Sum256([]byte(v))
			return append(append(dst, 'X'), sum[:]...), nil
		}
		return appendField(dst, 'x', v), nil
	}}}, nil
}

// evalCEL runs prg on r and converts the result to its canonical string.
// It never panics: cel-go reports runtime failures as errors.
func evalCEL(prg *celpolicy.ValueProgram, r *http.Request, ip ClientIPFunc, hdrs []string) (string, error) {
	out, err := prg.Eval(&celActivation{r: r, ip: ip, hdrs: hdrs})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCELEval, err)
	}
	switch v := out.(type) {
	case types.String:
		return string(v), nil
	case types.Int:
		return strconv.FormatInt(int64(v), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case types.Bool:
		return strconv.FormatBool(bool(v)), nil
	case types.Double:
		// JSON numbers in claims arrive as doubles: integral ones key like ints.
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.FormatInt(int64(f), 10), nil
		}
	}
	return "", fmt.Errorf("%w: result is %s, want string, int, uint, bool or an integral number", ErrCELEval, out.Type().TypeName())
}

// celActivation resolves variables lazily from the request: a key pays
// only for what its expression reads.
type celActivation struct {
	r  *http.Request
	ip ClientIPFunc
	// hdrs, when not nil, are the only (lower-case) header names the
	// expression can observe (see headerNames).
	hdrs []string
}

// headerNames returns the lower-case header names an expression reads when
// it only ever reads the headers map variable (request.headers,
// response.headers) by constant name (h["x"], h[?"x"],
// h.x, h.?x, has(h.x), "x" in h), so an evaluation builds a map of those
// headers instead of all of them. nil: the expression uses the map as a
// whole (size, iteration, a computed name) and gets every header.
func headerNames(a *cel.Ast, variable string) []string {
	nat := a.NativeRep()
	refs := nat.ReferenceMap()
	uses := map[int64]bool{} // expr ids of request.headers -> read by a constant name
	for id, r := range refs {
		if r.Name == variable {
			uses[id] = false
		}
	}
	if len(uses) == 0 {
		return nil
	}
	var names []string
	add := func(operand celast.Expr, name string) {
		if _, ok := uses[operand.ID()]; ok {
			uses[operand.ID()] = true
			// The whole map has lower-case names only: another spelling
			// can never be found, so it needs no entry.
			if name == strings.ToLower(name) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	lit := func(e celast.Expr) (string, bool) {
		if e.Kind() != celast.LiteralKind {
			return "", false
		}
		s, ok := e.AsLiteral().(types.String)
		return string(s), ok
	}
	celast.PostOrderVisit(nat.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			add(e.AsSelect().Operand(), e.AsSelect().FieldName())
		case celast.CallKind:
			c := e.AsCall()
			args := c.Args()
			if len(args) != 2 {
				return
			}
			switch c.FunctionName() {
			case operators.Index, operators.OptIndex, operators.OptSelect:
				if n, ok := lit(args[1]); ok {
					add(args[0], n)
				}
			case operators.In:
				if n, ok := lit(args[0]); ok {
					add(args[1], n)
				}
			}
		}
	}))
	for _, ok := range uses {
		if !ok {
			return nil
		}
	}
	if names == nil {
		names = []string{} // only names no header can have: an empty map
	}
	return names
}

var (
	emptyStrings = []string{}
	emptyClaims  = map[string]any{}
	emptyParams  = map[string]string{}
)

func (a *celActivation) ResolveName(name string) (any, bool) {
	r := a.r
	if p, ok := strings.CutPrefix(name, "principal."); ok {
		return resolvePrincipal(authn.PrincipalFrom(r.Context()), p)
	}
	switch name {
	case "request.method":
		return r.Method, true
	case "request.operation", "request.template", "request.path":
		rt := gatehouse.RouteFrom(r.Context())
		switch {
		case name == "request.path" && (rt == nil || rt.Params == nil):
			return emptyParams, true
		case name == "request.path":
			return rt.Params, true
		case rt == nil:
			return "", true
		case name == "request.operation":
			return rt.OperationID, true
		}
		return rt.Template, true
	case "request.query":
		q := map[string][]string(r.URL.Query())
		return q, true
	case "request.headers":
		if a.hdrs != nil {
			h := make(map[string]string, len(a.hdrs))
			for k, v := range r.Header {
				for _, n := range a.hdrs {
					if strings.EqualFold(k, n) {
						h[n] = joinHeader(h[n], v)
					}
				}
			}
			return h, true
		}
		h := make(map[string]string, len(r.Header))
		for k, v := range r.Header {
			lk := strings.ToLower(k)
			h[lk] = joinHeader(h[lk], v)
		}
		return h, true
	case "request.ip":
		if addr := a.ip(r); addr.IsValid() {
			return addr.Unmap().String(), true
		}
		return "", true
	}
	return nil, false
}

// joinHeader joins a header's values with ", " after prev (the values of
// another spelling of the same name, in a map built by hand).
func joinHeader(prev string, v []string) string {
	j := strings.Join(v, ", ")
	if prev == "" {
		return j
	}
	return prev + ", " + j
}

func resolvePrincipal(p *authn.Principal, field string) (any, bool) {
	switch field {
	case "authenticated":
		return p != nil, true
	case "sub", "issuer", "method":
		switch {
		case p == nil:
			return "", true
		case field == "sub":
			return p.Subject, true
		case field == "issuer":
			return p.Issuer, true
		}
		return p.Method, true
	case "roles", "scopes":
		if p == nil {
			return emptyStrings, true
		}
		l := p.Roles
		if field == "scopes" {
			l = p.Scopes
		}
		if l == nil {
			return emptyStrings, true
		}
		return l, true
	case "claims":
		if p == nil || p.Claims == nil {
			return emptyClaims, true
		}
		return p.Claims, true
	}
	return nil, false
}

func (a *celActivation) Parent() interpreter.Activation { return nil }
