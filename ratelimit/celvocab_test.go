package ratelimit_test

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// TestCELVocabularyNoDrift: the variables are declared once
// (celpolicy.NewEnv), but each use resolves them with its own activation
// (authz rules from celpolicy.Input, rate-limit keys straight from the
// request). For every variable either scope declares, one expression naming
// it must compile in every scope that declares it and give the same value
// through both activations on the same request. A variable added to the
// shared declarations without a row here, or resolved by only one of the
// two activations, or resolved differently, fails this test.
func TestCELVocabularyNoDrift(t *testing.T) {
	p := &authn.Principal{Subject: "alice", Issuer: "https://idp.example/", Method: "jwt",
		Roles: []string{"admin", "ops"}, Scopes: []string{"read"}, Claims: map[string]any{"org": "acme"}}
	rt := &gatehouse.Route{OperationID: "getUser", Method: "GET", Template: "/users/{id}",
		Path: "/users/7", Params: map[string]string{"id": "7"}}
	hdr := http.Header{"X-Tenant": {"t1", "t2"}}
	r := celReq("192.0.2.1:1234", hdr, p, rt, "/users/7?page=2&page=3")
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &celpolicy.Input{
		Principal: p, Method: r.Method, Operation: rt.OperationID, Template: rt.Template,
		Path:    map[string]any{"id": "7"},
		Query:   func() (map[string][]string, error) { return r.URL.Query(), nil },
		Headers: r.Header,
		Body:    func() (any, error) { return map[string]any{"n": "body"}, nil },
		IP:      "192.0.2.1",
		Time:    when,
	}
	// One row per declared variable: an expression reading it (a string
	// result) and the value it must have on the request above.
	rows := map[string]struct{ expr, want string }{
		"principal.authenticated": {`string(principal.authenticated)`, "true"},
		"principal.sub":           {`principal.sub`, "alice"},
		"principal.issuer":        {`principal.issuer`, "https://idp.example/"},
		"principal.method":        {`principal.method`, "jwt"},
		"principal.roles":         {`principal.roles[0] + "," + principal.roles[1] + ":" + string(size(principal.roles))`, "admin,ops:2"},
		"principal.scopes":        {`principal.scopes[0] + ":" + string(size(principal.scopes))`, "read:1"},
		"principal.claims":        {`string(principal.claims.org)`, "acme"},
		"request.method":          {`request.method`, "GET"},
		"request.operation":       {`request.operation`, "getUser"},
		"request.template":        {`request.template`, "/users/{id}"},
		"request.query":           {`request.query["page"][1] + ":" + string(size(request.query))`, "3:1"},
		"request.headers":         {`request.headers["x-tenant"] + ":" + string(size(request.headers))`, "t1, t2:1"},
		"request.ip":              {`request.ip`, "192.0.2.1"},
		"request.path":            {`request.path.id`, "7"}, // key: map(string, string); rule: per-operation, here declared string
		"request.body":            {`string(request.body.n)`, "body"},
		"request.time":            {`string(request.time)`, "2026-01-02T03:04:05Z"},
	}
	declared := func(s celpolicy.Scope) map[string]bool {
		env, err := celpolicy.NewEnv(s)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, v := range env.Variables() {
			m[v.Name()] = true
		}
		return m
	}
	rule, key := declared(celpolicy.ScopeRule), declared(celpolicy.ScopeKey)
	rule["request.path"] = true // declared per operation by Compiler (request.path.<name>)
	names := map[string]bool{}
	for n := range rule {
		names[n] = true
	}
	for n := range key {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	if len(sorted) < len(rows)-1 {
		t.Errorf("only %d variables declared, %d rows: a declaration was lost", len(sorted), len(rows))
	}

	cc, err := celpolicy.NewCompiler(celpolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]celpolicy.Type{"id": celpolicy.String}
	for _, n := range sorted {
		t.Run(n, func(t *testing.T) {
			row, ok := rows[n]
			if !ok {
				t.Fatalf("variable %s is declared but has no row here: resolve it in both activations (celpolicy, ratelimit) and add it", n)
			}
			lit := strconv.Quote(row.want)
			if rule[n] {
				prg, err := cc.Compile(row.expr+" == "+lit, params)
				if err != nil {
					t.Fatalf("rule scope: Compile(%q): %v", row.expr, err)
				}
				got, err := prg.Eval(context.Background(), in)
				if err != nil || !got {
					t.Errorf("rule scope: %s == %s: %v, %v; want true", row.expr, lit, got, err)
				}
			}
			if key[n] {
				k, err := ratelimit.KeyCEL(row.expr, nil)
				if err != nil {
					t.Fatalf("key scope: KeyCEL(%q): %v", row.expr, err)
				}
				got, err := k.AppendErr(nil, r)
				if err != nil {
					t.Fatalf("key scope: %s: %v", row.expr, err)
				}
				want, err := ratelimit.KeyCEL(lit, nil)
				if err != nil {
					t.Fatal(err)
				}
				if w := want.Append(nil, r); string(got) != string(w) {
					t.Errorf("key scope: %s = %q, want the key of %s (%q)", row.expr, got, lit, w)
				}
			}
		})
	}
}
