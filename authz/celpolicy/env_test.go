package celpolicy_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

// TestOneVocabulary: the rate-limit key scope declares exactly the authz
// rule variables (same names, same types) minus request.body and
// request.time, plus request.path as a map; so a key and a rule can never
// disagree about what principal.claims or request.headers is.
func TestOneVocabulary(t *testing.T) {
	types := func(s celpolicy.Scope) map[string]string {
		env, err := celpolicy.NewEnv(s)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, v := range env.Variables() {
			m[v.Name()] = v.Type().String()
		}
		return m
	}
	rule, key, resp := types(celpolicy.ScopeRule), types(celpolicy.ScopeKey), types(celpolicy.ScopeResponse)
	for n, ty := range key {
		if n == "request.path" {
			if ty != "map(string, string)" {
				t.Errorf("key request.path is %s", ty)
			}
			continue
		}
		if rule[n] != ty {
			t.Errorf("%s: key scope %s, rule scope %q", n, ty, rule[n])
		}
	}
	for n := range rule {
		if _, ok := key[n]; !ok && n != "request.body" && n != "request.time" {
			t.Errorf("rule variable %s missing from the key scope", n)
		}
	}
	if _, ok := key["request.body"]; ok {
		t.Error("key scope declares request.body")
	}
	if len(resp) != 3 || resp["response.status"] != "int" || resp["response.body"] != "dyn" {
		t.Errorf("response scope = %v", resp)
	}
}

func TestCompileValue(t *testing.T) {
	p, err := celpolicy.CompileValue(celpolicy.ScopeKey, `principal.claims.?org.orValue(request.ip)`, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.OutputType().String(); got != "dyn" {
		t.Errorf("OutputType = %s, want dyn", got)
	}
	for _, tt := range []struct {
		s    celpolicy.Scope
		expr string
	}{
		{celpolicy.ScopeKey, `request.body.x`},   // not in the key scope
		{celpolicy.ScopeKey, `request.time`},     // not in the key scope
		{celpolicy.ScopeResponse, `request.ip`},  // not in the response scope
		{celpolicy.ScopeRule, `response.status`}, // not in the rule scope
		{celpolicy.ScopeRule, `1 +`},
	} {
		if _, err := celpolicy.CompileValue(tt.s, tt.expr, 1000); !errors.Is(err, celpolicy.ErrCompile) {
			t.Errorf("CompileValue(%d, %q) = %v, want ErrCompile", tt.s, tt.expr, err)
		}
	}
	if _, err := celpolicy.NewEnv(celpolicy.Scope(9)); err == nil {
		t.Error("unknown scope accepted")
	}
}
