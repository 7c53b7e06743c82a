package celpolicy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

func newCompiler(t testing.TB, o Options) *Compiler {
	t.Helper()
	c, err := NewCompiler(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompileErrors(t *testing.T) {
	c := newCompiler(t, Options{})
	params := map[string]Type{"user_id": Int, "slug": String, "ratio": Double, "flag": Bool}
	for _, tc := range []struct {
		expr, want string
	}{
		{"request.path.user_id == principal.sub", "no matching overload"},
		{"request.path.slug == 1", "no matching overload"},
		{"request.path.flag == 'true'", "no matching overload"},
		{"request.path.ratio > 'a'", "no matching overload"},
		{"request.path.nope == 1", "request.path declares: flag bool, ratio double, slug string, user_id int"},
		{"principal.sub", "want bool"},
		{"principal.rolez.size() > 0", "undeclared reference"},
		{"1 +", "Syntax error"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := c.Compile(tc.expr, params)
			if !errors.Is(err, ErrCompile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile(%q) = %v, want ErrCompile containing %q", tc.expr, err, tc.want)
			}
		})
	}
}

func TestEval(t *testing.T) {
	c := newCompiler(t, Options{})
	params := map[string]Type{"user_id": Int, "slug": String}
	alice := &authn.Principal{Subject: "1", Issuer: "https://idp", Method: "jwt", Roles: []string{"user"}, Scopes: []string{"a:read"},
		Claims: map[string]any{"uid": float64(1), "org": map[string]any{"id": "o1"}}}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	in := func(p *authn.Principal) *Input {
		return &Input{
			Principal: p, Method: "GET", Operation: "getUser", Template: "/users/{user_id}",
			Path:    map[string]any{"user_id": int64(1), "slug": "x"},
			Query:   func() (map[string][]string, error) { return map[string][]string{"q": {"a", "b"}}, nil },
			Headers: http.Header{"X-Tenant": {"t1"}},
			Body:    func() (any, error) { return map[string]any{"n": float64(3)}, nil },
			IP:      "10.0.0.1", Time: now,
		}
	}
	for _, tc := range []struct {
		expr string
		p    *authn.Principal
		want bool
		err  bool
	}{
		{"request.path.user_id == 1", alice, true, false},
		{"request.path.user_id == principal.claims.uid", alice, true, false}, // dyn double == int
		{"string(request.path.user_id) == principal.sub", alice, true, false},
		{"'user' in principal.roles && 'a:read' in principal.scopes", alice, true, false},
		{"principal.claims.org.id == 'o1'", alice, true, false},
		{"principal.authenticated", alice, true, false},
		{"principal.authenticated", nil, false, false},
		{"principal.sub == ''", nil, true, false},
		{"size(principal.roles) == 0", nil, true, false},
		{"request.method == 'GET' && request.operation == 'getUser' && request.template == '/users/{user_id}'", alice, true, false},
		{"request.query.q == ['a', 'b']", alice, true, false},
		{"request.headers['x-tenant'] == 't1'", alice, true, false},
		{"request.body.n == 3", alice, true, false},
		{"request.ip == '10.0.0.1'", alice, true, false},
		{"request.time == timestamp('2026-11-27T10:00:00Z')", alice, true, false},
		{"principal.claims.missing == 1", alice, false, true},
		{"principal.claims.uid == 1", nil, false, true}, // no such key: error, denied
		// optional syntax: an absent claim falls back instead of erroring
		{"principal.claims.?tenant.orValue('none') == 'none'", alice, true, false},
		{"principal.claims.?org.id.orValue('') == 'o1'", alice, true, false},
		{"principal.claims.?tenant.orValue('t1') == 'none'", nil, false, false},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			prg, err := c.Compile(tc.expr, params)
			if err != nil {
				t.Fatal(err)
			}
			got, err := prg.Eval(context.Background(), in(tc.p))
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("Eval(%q) = %v, %v; want %v, err=%v", tc.expr, got, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, ErrEval) {
				t.Fatalf("error %v does not wrap ErrEval", err)
			}
		})
	}
}

func TestPathValueAbsentIsError(t *testing.T) {
	c := newCompiler(t, Options{})
	prg, err := c.Compile("request.path.user_id != 2", map[string]Type{"user_id": Int})
	if err != nil {
		t.Fatal(err)
	}
	// A non-canonical id is left out of Path by the caller: the rule must not
	// see a zero value that would make "!= 2" true.
	ok, err := prg.Eval(context.Background(), &Input{Path: map[string]any{}})
	if ok || !errors.Is(err, ErrEval) {
		t.Fatalf("Eval with absent value = %v, %v; want false, ErrEval", ok, err)
	}
}

func TestLazyInputs(t *testing.T) {
	c := newCompiler(t, Options{})
	prg, err := c.Compile("principal.sub == '1'", nil)
	if err != nil {
		t.Fatal(err)
	}
	if prg.Uses("request.body") {
		t.Fatal("Uses(request.body) = true for a rule that does not read it")
	}
	called := false
	in := &Input{Principal: &authn.Principal{Subject: "1"}, Body: func() (any, error) { called = true; return nil, nil }}
	if ok, err := prg.Eval(context.Background(), in); !ok || err != nil || called {
		t.Fatalf("Eval = %v, %v, body read = %v", ok, err, called)
	}
	prg, _ = c.Compile("request.body != null", nil)
	if !prg.Uses("request.body") {
		t.Fatal("Uses(request.body) = false")
	}
	in.Body = func() (any, error) { return nil, errors.New("boom") }
	if ok, err := prg.Eval(context.Background(), in); ok || err == nil {
		t.Fatalf("Eval with failing body = %v, %v; want denial", ok, err)
	}
}

func TestCostLimitAndTimeout(t *testing.T) {
	c := newCompiler(t, Options{CostLimit: 1000, Timeout: time.Minute}) // the cost limit, not the clock, must stop it
	prg, err := c.Compile("principal.roles.all(r, principal.roles.all(s, r + s != 'x'))", nil)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]string, 200)
	for i := range many {
		many[i] = "r"
	}
	ok, err := prg.Eval(context.Background(), &Input{Principal: &authn.Principal{Roles: many}})
	if ok || !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("Eval over the cost limit = %v, %v; want cost error", ok, err)
	}
	// A cancelled context interrupts a looping rule.
	c2 := newCompiler(t, Options{CostLimit: 1 << 40})
	prg, _ = c2.Compile("principal.roles.all(r, principal.roles.all(s, r + s != 'x'))", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err = prg.Eval(ctx, &Input{Principal: &authn.Principal{Roles: many}})
	if ok || !errors.Is(err, ErrEval) {
		t.Fatalf("Eval with cancelled ctx = %v, %v; want interrupted", ok, err)
	}
}

func TestCompileCaches(t *testing.T) {
	c := newCompiler(t, Options{})
	a, _ := c.Compile("request.path.id == 1", map[string]Type{"id": Int})
	b, _ := c.Compile("request.path.id == 1", map[string]Type{"id": Int})
	if a != b {
		t.Fatal("same expression and signature compiled twice")
	}
	if _, err := c.Compile("request.path.id == 1", map[string]Type{"id": String}); err == nil {
		t.Fatal("cache ignored the parameter types")
	}
}
