package ratelimit

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/jsonx"
)

// FuzzAccounts feeds attacker-controlled login bodies to the account
// extractor: it must not panic, and returns either one normalized, non-empty
// name or one of the sentinel errors.
func FuzzAccounts(f *testing.F) {
	for _, s := range []string{`{"username":"bob"}`, `{"username":"a","username":"b"}`, `{"credentials":{"user":"x"}}`,
		`[{"username":1}]`, `{"username":{"$ne":null}}`, `{`, `username=bob&username=eve`, strings.Repeat("[", 100),
		`{"Username":"a","username":"b"}`, `{"u\u0073ername":"a"}`, `{"USERNAME":" Bob "}`} {
		f.Add(s, "/username", false, false)
		f.Add(s, "/credentials/user", true, true)
	}
	f.Fuzz(func(t *testing.T, body, field string, form, exact bool) {
		ptr, err := parsePointer(field)
		if err != nil {
			return
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		if form {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		got, err := account(r, ptr, !exact, 1<<16, jsonx.Limits{})
		if err != nil {
			if !errors.Is(err, ErrNoAccount) && !errors.Is(err, ErrAmbiguousAccount) && !errors.Is(err, httpx.ErrBodyTooLarge) {
				t.Fatalf("account error %v is not a sentinel", err)
			}
			return
		}
		if got == "" || got != strings.ToLower(strings.TrimSpace(got)) || len(got) > maxAccountLen {
			t.Fatalf("account %q not normalized", got)
		}
	})
}

// FuzzParseKey feeds config key words (cel: expressions included) and
// attacker-chosen header values: parsing either fails with an error or
// yields a key whose evaluation never panics and stays bounded.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"ip", "user", "header:X-Tenant", "claim:org", "operation",
		`cel:request.headers["x-tenant"]`, `cel:principal.claims.org`, `cel:request.ip + "/" + request.method`,
		`cel:size(request.headers)`, `cel:request.query["a"].filter(x, x != "").size()`,
		`cel:principal.claims.?org.orValue(request.ip)`, `cel:`, `cel:1.5`, `cel:request.nope`, `cel:"a" +`} {
		f.Add(s, "acme")
		f.Add(s, strings.Repeat("\xff", 300))
	}
	f.Fuzz(func(t *testing.T, word, value string) {
		k, err := ParseKey([]string{word}, nil)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/?a=b", nil)
		r.Header.Set("X-Tenant", value)
		r = r.WithContext(authn.NewContext(r.Context(), &authn.Principal{Subject: value, Claims: map[string]any{"org": value}}))
		got, err := k.AppendErr(nil, r)
		if err != nil && !errors.Is(err, ErrCELEval) {
			t.Fatalf("key error %v does not wrap ErrCELEval", err)
		}
		if strings.HasPrefix(strings.TrimSpace(word), "cel:") && len(got) > MaxCELKeyLen+8 {
			t.Fatalf("cel key of %d bytes", len(got))
		}
	})
}

// FuzzFailureWhen feeds upstream login answers (which may echo attacker
// input) to the failure condition: it never panics, and an answer it cannot
// read counts as a failure, never as a success.
func FuzzFailureWhen(f *testing.F) {
	for _, s := range []string{`{"auth_token":"t"}`, `{"message":"bad credentials"}`, `[1,2]`, `{"auth_token":1e999}`,
		`{"a":{"b":{"c":[{"d":null}]}}}`, `{"auth_token":"a","auth_token":"b"}`, "\xef\xbb\xbf{}", strings.Repeat("[", 40), `nope`} {
		f.Add(s, 200)
	}
	c, err := CompileFailureWhen(`response.status == 200 && !has(response.body.auth_token)`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, status int) {
		resp := &loginResponse{status: status, body: []byte(body)}
		failed, err := c.failed(resp)
		if err != nil && !failed {
			t.Fatalf("evaluation error %v not counted as a failure", err)
		}
		if status == 200 && !failed && !strings.Contains(body, "auth_token") {
			t.Fatalf("body %q without a token counted as success", body)
		}
	})
}
