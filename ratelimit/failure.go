package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/jsonx"
)

// Bounds of a failure_when condition.
const (
	// FailureCostLimit caps the runtime cost of one failure_when evaluation.
	FailureCostLimit uint64 = 10000
	// MaxFailureBody is the prefix of the upstream's login response that the
	// condition can read as response.body: a longer body is delivered
	// unchanged to the client, but the condition sees an empty map.
	MaxFailureBody = 16 << 10
)

// FailureCondition decides from the upstream's answer to a login whether
// the login failed, for upstreams that do not answer failures with 401 or
// 403 (many answer 200 with an error message). It is compiled and
// type-checked once by CompileFailureWhen and is safe for concurrent use.
type FailureCondition struct {
	prg     *celpolicy.ValueProgram
	hdrs    []string // header names read (nil: all), when headers is set
	headers bool     // the expression reads response.headers
	body    bool     // the expression reads response.body
	expr    string
}

// String returns the expression.
func (c *FailureCondition) String() string { return c.expr }

// CompileFailureWhen compiles a CEL condition over the upstream's answer to
// a login; it must return bool. Variables:
//
//	response.status  int
//	response.headers map(string, string): lower-case names, repeated values joined by ", "
//	response.body    dyn: the body parsed as JSON (jsonx) when it is
//	                 JSON and at most MaxFailureBody bytes; else an empty map
//
// Example: response.status == 200 && !has(response.body.auth_token).
// A condition that fails to evaluate (a missing key, the cost limit) counts
// the login as failed: an upstream answer the condition cannot read never
// resets an account's failures.
func CompileFailureWhen(expr string) (*FailureCondition, error) {
	// The response scope of the one gatehouse CEL vocabulary (authz/celpolicy).
	prg, err := celpolicy.CompileValue(celpolicy.ScopeResponse, expr, FailureCostLimit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCELKey, err)
	}
	if t := prg.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("%w: failure_when returns %s, want bool", ErrCELKey, t)
	}
	c := &FailureCondition{prg: prg, expr: expr}
	for _, r := range prg.Ast().NativeRep().ReferenceMap() {
		c.headers = c.headers || r.Name == "response.headers"
		c.body = c.body || r.Name == "response.body"
	}
	if c.headers {
		c.hdrs = headerNames(prg.Ast(), "response.headers")
	}
	return c, nil
}

// loginResponse is the upstream's answer to a login, as far as the
// failure condition reads it.
type loginResponse struct {
	tapped    bool // an UpstreamTap records it (the outer writer stays out)
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

type loginRespKey struct{}

// captureWriter copies the status, headers and a bounded body prefix into
// c while passing everything through unchanged.
type captureWriter struct {
	http.ResponseWriter
	c       *loginResponse
	outer   bool
	headers bool
	body    bool
}

func (w *captureWriter) rec() bool { return !(w.outer && w.c.tapped) }

func (w *captureWriter) WriteHeader(code int) {
	if code >= 200 && w.c.status == 0 && w.rec() {
		w.c.status = code
		if w.headers {
			w.c.header = w.ResponseWriter.Header().Clone()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.c.status == 0 && w.rec() {
		w.WriteHeader(http.StatusOK)
	}
	if w.body && w.rec() && !w.c.truncated {
		if room := MaxFailureBody - len(w.c.body); len(p) <= room {
			w.c.body = append(w.c.body, p...)
		} else {
			w.c.truncated = true
			w.c.body = nil
		}
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// UpstreamTap is a middleware to put directly in front of the upstream (the
// innermost stage): on login operations with a failure condition it lets
// the condition read the upstream's own answer rather than the response
// later stages (the response filter) deliver. Without it the condition
// reads the response as it leaves the next stage. Other requests pass
// through untouched.
func (m *Middleware) UpstreamTap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(loginRespKey{}).(*loginResponse)
		if c == nil || c.tapped || m.login == nil || m.login.FailureWhen == nil {
			next.ServeHTTP(w, r)
			return
		}
		c.tapped = true
		fw := m.login.FailureWhen
		next.ServeHTTP(&captureWriter{ResponseWriter: w, c: c, headers: fw.headers, body: fw.body}, r)
	})
}

func withLoginResponse(ctx context.Context, c *loginResponse) context.Context {
	return context.WithValue(ctx, loginRespKey{}, c)
}

// failed evaluates the condition on resp; an evaluation error counts as a
// failure (returned so the caller can record it).
func (c *FailureCondition) failed(resp *loginResponse) (bool, error) {
	out, err := c.prg.Eval(&failureActivation{c: c, resp: resp})
	if err != nil {
		return true, fmt.Errorf("%w: failure_when: %w", ErrCELEval, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return true, fmt.Errorf("%w: failure_when returned %s", ErrCELEval, out.Type().TypeName())
	}
	return bool(b), nil
}

type failureActivation struct {
	c    *FailureCondition
	resp *loginResponse
}

func (a *failureActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "response.status":
		return int64(a.resp.status), true
	case "response.headers":
		h := make(map[string]string, len(a.resp.header))
		for k, v := range a.resp.header {
			lk := strings.ToLower(k)
			if a.c.hdrs != nil && !containsStr(a.c.hdrs, lk) {
				continue
			}
			h[lk] = joinHeader(h[lk], v)
		}
		return h, true
	case "response.body":
		if a.resp.truncated || len(a.resp.body) == 0 {
			return emptyClaims, true
		}
		v, err := jsonx.Parse(a.resp.body, jsonx.Limits{})
		if err != nil {
			return emptyClaims, true
		}
		return celJSON(v), true
	}
	return nil, false
}

func (a *failureActivation) Parent() interpreter.Activation { return nil }

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// celJSON converts jsonx numbers (json.Number) to int64 or float64 in place
// so CEL compares them as numbers.
func celJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = celJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = celJSON(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	}
	return v
}
