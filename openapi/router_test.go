package openapi

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	routesOnce sync.Once
	routesSpec *Spec
	routesErr  error
)

// routes loads testdata/routes.yaml once per test binary.
func routes(tb testing.TB) *Spec {
	tb.Helper()
	routesOnce.Do(func() { routesSpec, routesErr = Load("testdata/routes.yaml") })
	if routesErr != nil {
		tb.Fatalf("Load routes.yaml: %v", routesErr)
	}
	return routesSpec
}

type p = map[string]string

// matchCase is one row of the matcher table: either an operation (id,
// params, and optionally the exact RawPath forwarded upstream) or a sentinel.
type matchCase struct {
	name, method, path string
	id                 string
	params             p
	raw                string // expected RawPath; "" = same as path before '?'
	err                error
}

var happyCases = []matchCase{
	{name: "root", method: "GET", path: "/", id: "root"},
	{name: "root with query", method: "GET", path: "/?x=1", id: "root", raw: "/"},
	{name: "collection", method: "GET", path: "/users", id: "listUsers"},
	{name: "collection post", method: "POST", path: "/users", id: "createUser"},
	{name: "param", method: "GET", path: "/users/42", id: "getUser", params: p{"id": "42"}},
	{name: "param delete", method: "DELETE", path: "/users/42", id: "deleteUser", params: p{"id": "42"}},
	{name: "literal beats param", method: "GET", path: "/users/me", id: "getMe"},
	{name: "nested param", method: "GET", path: "/users/42/posts", id: "listPosts", params: p{"id": "42"}},
	{name: "literal then param", method: "GET", path: "/users/me/settings", id: "getMeSection", params: p{"section": "settings"}},
	{name: "query stripped", method: "GET", path: "/users/42?expand=all&x=%2F", id: "getUser", params: p{"id": "42"}, raw: "/users/42"},
	{name: "empty query", method: "GET", path: "/users/42?", id: "getUser", params: p{"id": "42"}, raw: "/users/42"},
	{name: "declared trailing slash", method: "GET", path: "/teams/", id: "listTeamsSlash"},
	{name: "encoded space decoded in param", method: "GET", path: "/users/a%20b", id: "getUser", params: p{"id": "a b"}},
	{name: "encoded unreserved decoded", method: "GET", path: "/users/%61lice", id: "getUser", params: p{"id": "alice"}, raw: "/users/alice"},
	{name: "encoded letters reach literal route", method: "GET", path: "/users/%6De", id: "getMe", raw: "/users/me"},
	{name: "encoded letters in first segment", method: "GET", path: "/%61dmin/users", id: "adminListUsers", raw: "/admin/users"},
	{name: "lower-case hex canonicalized", method: "GET", path: "/users/a%2cb", id: "getUser", params: p{"id": "a,b"}, raw: "/users/a%2Cb"},
	{name: "raw comma re-encoded", method: "GET", path: "/users/a,b", id: "getUser", params: p{"id": "a,b"}, raw: "/users/a%2Cb"},
	{name: "plus kept literal, encoded upstream", method: "GET", path: "/users/a+b", id: "getUser", params: p{"id": "a+b"}, raw: "/users/a%2Bb"},
	{name: "encoded plus", method: "GET", path: "/users/a%2Bb", id: "getUser", params: p{"id": "a+b"}},
	{name: "at and colon stay raw", method: "GET", path: "/users/u@example.com:1", id: "getUser", params: p{"id": "u@example.com:1"}},
	{name: "encoded colon decoded", method: "GET", path: "/users/a%3Ab", id: "getUser", params: p{"id": "a:b"}, raw: "/users/a:b"},
	{name: "encoded question mark is data", method: "GET", path: "/users/what%3F", id: "getUser", params: p{"id": "what?"}},
	{name: "encoded hash is data", method: "GET", path: "/users/42%23", id: "getUser", params: p{"id": "42#"}},
	{name: "double encoding decoded once", method: "GET", path: "/users/%252e%252e", id: "getUser", params: p{"id": "%2e%2e"}, raw: "/users/%252e%252e"},
	{name: "double encoded slash is literal text", method: "GET", path: "/users/%252F", id: "getUser", params: p{"id": "%2F"}},
	{name: "double encoded letter", method: "GET", path: "/users/%2561", id: "getUser", params: p{"id": "%61"}},
	{name: "utf-8 encoded", method: "GET", path: "/users/caf%C3%A9", id: "getUser", params: p{"id": "café"}},
	{name: "utf-8 raw", method: "GET", path: "/users/café", id: "getUser", params: p{"id": "café"}, raw: "/users/caf%C3%A9"},
	{name: "cjk", method: "GET", path: "/users/%E7%94%A8%E6%88%B7", id: "getUser", params: p{"id": "用户"}},
	{name: "emoji", method: "GET", path: "/users/%F0%9F%98%80", id: "getUser", params: p{"id": "😀"}},
	{name: "fullwidth letters are literal data", method: "GET", path: "/users/%EF%BD%81%EF%BD%84", id: "getUser", params: p{"id": "ａｄ"}},
	{name: "dots inside a segment", method: "GET", path: "/users/a..b", id: "getUser", params: p{"id": "a..b"}},
	{name: "leading dot segment value", method: "GET", path: "/users/.hidden", id: "getUser", params: p{"id": ".hidden"}},
	{name: "mixed segment", method: "GET", path: "/files/report.pdf", id: "getFile", params: p{"name": "report", "ext": "pdf"}},
	{name: "prefix param", method: "GET", path: "/v2/status", id: "status", params: p{"version": "2"}},
	{name: "suffix literal wins over plain param", method: "POST", path: "/jobs/7:cancel", id: "cancelJob", params: p{"id": "7"}},
	{name: "plain param sibling", method: "GET", path: "/jobs/7", id: "getJob", params: p{"id": "7"}},
	{name: "long path within limit", method: "GET", path: "/users/" + strings.Repeat("x", MaxPathLength-len("/users/")), id: "getUser", params: p{"id": strings.Repeat("x", MaxPathLength-len("/users/"))}},
}

var attackCases = []matchCase{
	// dot segments, plain and encoded
	{name: "dotdot climb to admin", method: "GET", path: "/users/../admin/users", err: ErrBadPath},
	{name: "dot segment", method: "GET", path: "/users/./42", err: ErrBadPath},
	{name: "encoded dotdot lower", method: "GET", path: "/users/%2e%2e/admin", err: ErrBadPath},
	{name: "encoded dotdot upper", method: "GET", path: "/users/%2E%2E/admin", err: ErrBadPath},
	{name: "half encoded dotdot", method: "GET", path: "/users/.%2e/admin", err: ErrBadPath},
	{name: "encoded single dot", method: "GET", path: "/users/%2e/42", err: ErrBadPath},
	{name: "dotdot above root", method: "GET", path: "/../../etc/passwd", err: ErrBadPath},
	{name: "lone dotdot", method: "GET", path: "/..", err: ErrBadPath},
	{name: "trailing dotdot", method: "GET", path: "/users/42/..", err: ErrBadPath},
	{name: "triple dot (windows alias)", method: "GET", path: "/users/...", err: ErrBadPath},
	{name: "dotdot space (windows alias)", method: "GET", path: "/users/..%20", err: ErrBadPath},
	{name: "dot space dot", method: "GET", path: "/users/.%20./admin", err: ErrBadPath},
	// encoded slash and backslash
	{name: "encoded slash upper", method: "GET", path: "/admin%2Fusers", err: ErrBadPath},
	{name: "encoded slash lower", method: "GET", path: "/admin%2fusers", err: ErrBadPath},
	{name: "encoded slash traversal", method: "GET", path: "/users/42%2F..%2F..%2Fadmin", err: ErrBadPath},
	{name: "encoded backslash", method: "GET", path: "/admin%5Cusers", err: ErrBadPath},
	{name: "encoded backslash lower", method: "GET", path: "/users/..%5c..%5cadmin", err: ErrBadPath},
	{name: "raw backslash", method: "GET", path: `/admin\users`, err: ErrBadPath},
	{name: "raw backslash traversal", method: "GET", path: `/users/..\admin`, err: ErrBadPath},
	// NUL and controls, raw and encoded
	{name: "encoded nul", method: "GET", path: "/users/42%00", err: ErrBadPath},
	{name: "encoded nul before extension", method: "GET", path: "/users/42%00.json", err: ErrBadPath},
	{name: "raw nul", method: "GET", path: "/users/4\x002", err: ErrBadPath},
	{name: "encoded crlf", method: "GET", path: "/users/42%0D%0ASet-Cookie:x", err: ErrBadPath},
	{name: "encoded tab", method: "GET", path: "/users/%09", err: ErrBadPath},
	{name: "raw tab", method: "GET", path: "/users/\t", err: ErrBadPath},
	{name: "encoded DEL", method: "GET", path: "/users/%7F", err: ErrBadPath},
	// matrix parameters and fragments
	{name: "matrix param on literal", method: "GET", path: "/admin;jsessionid=1/users", err: ErrBadPath},
	{name: "matrix param at end", method: "GET", path: "/admin/users;x=1", err: ErrBadPath},
	{name: "bare semicolon", method: "GET", path: "/users;/42", err: ErrBadPath},
	{name: "encoded semicolon", method: "GET", path: "/admin%3B/users", err: ErrBadPath},
	{name: "dotdot semicolon (tomcat)", method: "GET", path: "/users/..;/admin", err: ErrBadPath},
	{name: "raw hash", method: "GET", path: "/admin#/users", err: ErrBadPath},
	{name: "raw hash at end", method: "GET", path: "/users/42#frag", err: ErrBadPath},
	// slashes
	{name: "leading double slash", method: "GET", path: "//admin/users", err: ErrBadPath},
	{name: "inner double slash", method: "GET", path: "/admin//users", err: ErrBadPath},
	{name: "trailing double slash", method: "GET", path: "/users//", err: ErrBadPath},
	{name: "only slashes", method: "GET", path: "///", err: ErrBadPath},
	{name: "undeclared trailing slash", method: "GET", path: "/users/", err: ErrNotFound},
	{name: "trailing slash on param route", method: "GET", path: "/users/42/", err: ErrNotFound},
	{name: "missing declared trailing slash", method: "GET", path: "/teams", err: ErrNotFound},
	// case
	{name: "upper case literal", method: "GET", path: "/ADMIN/users", err: ErrNotFound},
	{name: "capitalized literal", method: "GET", path: "/Admin", err: ErrNotFound},
	{name: "upper case collection", method: "GET", path: "/USERS", err: ErrNotFound},
	{name: "case-varied encoded letters", method: "GET", path: "/%41dmin", err: ErrNotFound},
	// trailing dot
	{name: "trailing dot", method: "GET", path: "/admin.", err: ErrNotFound},
	{name: "encoded trailing dot", method: "GET", path: "/admin%2e", err: ErrNotFound},
	{name: "trailing dot on nested literal", method: "GET", path: "/admin/users.", err: ErrNotFound},
	// overlong and invalid UTF-8
	{name: "overlong dot", method: "GET", path: "/users/%C0%AE%C0%AE/admin", err: ErrBadPath},
	{name: "overlong slash", method: "GET", path: "/admin%C0%AFusers", err: ErrBadPath},
	{name: "3-byte overlong dot", method: "GET", path: "/users/%E0%80%AE", err: ErrBadPath},
	{name: "invalid utf-8 byte", method: "GET", path: "/users/%FF", err: ErrBadPath},
	{name: "truncated utf-8", method: "GET", path: "/users/%C3", err: ErrBadPath},
	{name: "utf-16 surrogate", method: "GET", path: "/users/%ED%A0%80", err: ErrBadPath},
	{name: "raw invalid utf-8", method: "GET", path: "/users/\xc0\xae", err: ErrBadPath},
	// fullwidth and compatibility characters
	{name: "fullwidth full stops", method: "GET", path: "/users/%EF%BC%8E%EF%BC%8E/admin", err: ErrBadPath},
	{name: "fullwidth solidus", method: "GET", path: "/admin%EF%BC%8Fusers", err: ErrBadPath},
	{name: "fullwidth reverse solidus", method: "GET", path: "/admin%EF%BC%BCusers", err: ErrBadPath},
	{name: "raw fullwidth full stop", method: "GET", path: "/users/．．", err: ErrBadPath},
	{name: "one dot leader", method: "GET", path: "/users/%E2%80%A4", err: ErrBadPath},
	{name: "two dot leader", method: "GET", path: "/users/%E2%80%A5", err: ErrBadPath},
	{name: "small full stop", method: "GET", path: "/users/%EF%B9%92", err: ErrBadPath},
	{name: "fullwidth semicolon", method: "GET", path: "/admin%EF%BC%9Bx", err: ErrBadPath},
	{name: "fullwidth percent", method: "GET", path: "/users/%EF%BC%852e", err: ErrBadPath},
	{name: "fullwidth letters do not reach ascii route", method: "GET", path: "/ａｄｍｉｎ", err: ErrNotFound},
	// malformed percent-encoding
	{name: "bad hex", method: "GET", path: "/users/%zz", err: ErrBadPath},
	{name: "lone percent", method: "GET", path: "/users/%", err: ErrBadPath},
	{name: "truncated escape", method: "GET", path: "/users/%4", err: ErrBadPath},
	{name: "percent percent", method: "GET", path: "/users/%%34%31", err: ErrBadPath},
	{name: "signed hex", method: "GET", path: "/users/%-1", err: ErrBadPath},
	{name: "iis unicode escape", method: "GET", path: "/users/%u002e%u002e", err: ErrBadPath},
	// characters not allowed raw in a path
	{name: "raw space", method: "GET", path: "/users/a b", err: ErrBadPath},
	{name: "raw braces", method: "GET", path: "/users/{id}", err: ErrBadPath},
	{name: "raw pipe", method: "GET", path: "/users/a|b", err: ErrBadPath},
	{name: "raw quote", method: "GET", path: `/users/"x"`, err: ErrBadPath},
	{name: "raw angle brackets", method: "GET", path: "/users/<script>", err: ErrBadPath},
	// request-target forms
	{name: "empty path", method: "GET", path: "", err: ErrBadPath},
	{name: "asterisk form", method: "OPTIONS", path: "*", err: ErrBadPath},
	{name: "absolute form", method: "GET", path: "http://evil.example/admin/users", err: ErrBadPath},
	{name: "relative path", method: "GET", path: "admin/users", err: ErrBadPath},
	{name: "query only", method: "GET", path: "?/admin", err: ErrBadPath},
	{name: "too long", method: "GET", path: "/users/" + strings.Repeat("x", MaxPathLength), err: ErrBadPath},
	{name: "too many segments", method: "GET", path: strings.Repeat("/a", 500), err: ErrNotFound},
	// ambiguity
	{name: "two templates tie", method: "GET", path: "/users/me/posts", err: ErrBadPath},
	{name: "mixed segment splits two ways", method: "GET", path: "/files/report.final.pdf", err: ErrBadPath},
	{name: "mixed segment needs non-empty params", method: "GET", path: "/files/.pdf", err: ErrNotFound},
	{name: "empty prefix param", method: "GET", path: "/v/status", err: ErrNotFound},
	{name: "query template is not routable", method: "GET", path: "/search", err: ErrNotFound},
	// methods
	{name: "wrong method", method: "PUT", path: "/users", err: ErrMethodNotAllowed},
	{name: "lower case method", method: "get", path: "/users", err: ErrMethodNotAllowed},
	{name: "literal route does not fall back to param route's method", method: "DELETE", path: "/users/me", err: ErrMethodNotAllowed},
	{name: "unknown method", method: "PROPFIND", path: "/users/42", err: ErrMethodNotAllowed},
	{name: "mixed route wins then method checked", method: "GET", path: "/jobs/7:cancel", err: ErrMethodNotAllowed},
	{name: "head is not get", method: "HEAD", path: "/users", err: ErrMethodNotAllowed},
}

func TestMatch(t *testing.T) {
	s := routes(t)
	for _, group := range []struct {
		name  string
		cases []matchCase
	}{{"happy", happyCases}, {"attack", attackCases}} {
		t.Run(group.name, func(t *testing.T) {
			for _, tc := range group.cases {
				t.Run(tc.name, func(t *testing.T) { checkMatch(t, s, tc) })
			}
		})
	}
}

func checkMatch(t *testing.T, s *Spec, tc matchCase) {
	t.Helper()
	m, err := s.Match(tc.method, tc.path)
	if tc.err != nil {
		if !errors.Is(err, tc.err) {
			var id string
			if m != nil {
				id = m.Operation.ID
			}
			t.Fatalf("Match(%s %q) = %q, %v; want %v", tc.method, tc.path, id, err, tc.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Match(%s %q) error %v, want %s", tc.method, tc.path, err, tc.id)
	}
	if m.Operation.ID != tc.id {
		t.Errorf("Match(%s %q) = %s, want %s", tc.method, tc.path, m.Operation.ID, tc.id)
	}
	if !maps.Equal(m.Params, tc.params) {
		t.Errorf("Match(%s %q) params = %v, want %v", tc.method, tc.path, m.Params, tc.params)
	}
	want := tc.raw
	if want == "" {
		want, _, _ = strings.Cut(tc.path, "?")
	}
	if m.RawPath != want {
		t.Errorf("Match(%s %q) RawPath = %q, want %q", tc.method, tc.path, m.RawPath, want)
	}
	// what is forwarded upstream routes to the same operation and params
	again, err := s.Match(tc.method, m.RawPath)
	if err != nil || again.Operation != m.Operation || !maps.Equal(again.Params, m.Params) || again.RawPath != m.RawPath {
		t.Errorf("re-Match(RawPath %q) = %+v, %v; not stable", m.RawPath, again, err)
	}
}

func TestMatchCaseCount(t *testing.T) {
	// README and docs/gateway.md say 93 bypass cases: the count may grow, a
	// case removed must also change the docs.
	if n := len(attackCases); n < 93 {
		t.Errorf("only %d normalization/bypass cases, want at least the documented 93", n)
	}
}

func TestMethodNotAllowedAllow(t *testing.T) {
	s := routes(t)
	tests := []struct {
		method, path string
		allow        []string
	}{
		{"PUT", "/users", []string{"GET", "POST"}},
		{"POST", "/users/42", []string{"GET", "DELETE"}},
		{"DELETE", "/users/me", []string{"GET"}},
		{"GET", "/jobs/1:cancel", []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			_, err := s.Match(tt.method, tt.path)
			var mna *MethodNotAllowedError
			if !errors.As(err, &mna) || !errors.Is(err, ErrMethodNotAllowed) {
				t.Fatalf("Match = %v, want *MethodNotAllowedError", err)
			}
			if !slices.Equal(mna.Allow, tt.allow) {
				t.Errorf("Allow = %v, want %v", mna.Allow, tt.allow)
			}
			mna.Allow[0] = "MUTATED" // the caller owns the slice
			_, err = s.Match(tt.method, tt.path)
			errors.As(err, &mna)
			if mna.Allow[0] != tt.allow[0] {
				t.Error("Allow slice shared with the router")
			}
		})
	}
}

func TestMatchPathDecoded(t *testing.T) {
	m, err := routes(t).Match("GET", "/users/a%20b%2Fc"[:len("/users/a%20b")])
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "/users/a b" || m.RawPath != "/users/a%20b" {
		t.Errorf("Path %q RawPath %q", m.Path, m.RawPath)
	}
}

func TestRouterLoadErrors(t *testing.T) {
	tests := []struct {
		name, paths, want string
	}{
		{"same template up to names", "/u/{id}: {get: {responses: {'200': {description: ok}}}}\n  /u/{name}: {get: {responses: {'200': {description: ok}}}}", "same as"},
		{"adjacent params", "/f/{a}{b}: {get: {responses: {'200': {description: ok}}}}", "adjacent parameters"},
		{"repeated param", "/a/{id}/b/{id}: {get: {responses: {'200': {description: ok}}}}", "repeats parameter"},
		{"empty segment", "/a//b: {get: {responses: {'200': {description: ok}}}}", "empty segment"},
		{"dot segment", "/a/../b: {get: {responses: {'200': {description: ok}}}}", "dot segment"},
		{"unbalanced", "/a/{id: {get: {responses: {'200': {description: ok}}}}", "unbalanced"},
		{"no leading slash", "a/b: {get: {responses: {'200': {description: ok}}}}", "start with '/'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  " + tt.paths + "\n"
			_, err := LoadBytes([]byte(doc), "mem.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "mem.yaml:") {
				t.Errorf("LoadBytes error = %v, want one containing %q with a file:line position", err, tt.want)
			}
		})
	}
}

func TestWarningUnmatchableLiteral(t *testing.T) {
	doc := "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a;b/{id}:\n    get: {responses: {'200': {description: ok}}}\n  /c:\n    get: {responses: {'200': {description: ok}}}\n"
	s, err := LoadBytes([]byte(doc), "mem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], `"/a;b/{id}"`) {
		t.Errorf("Warnings = %q, want one for /a;b/{id}", s.Warnings)
	}
}

func TestWarnings(t *testing.T) {
	s := routes(t)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "routes.yaml:") || !strings.Contains(s.Warnings[0], "/search?beta=true") {
		t.Errorf("Warnings = %q", s.Warnings)
	}
	if s.Operation("betaSearch") == nil {
		t.Error("unroutable operation must still be listed")
	}
}

func TestMatchRealSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	needFile(t, openaiSpec)
	s, err := Load(openaiSpec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ method, path, id string }{
		{"POST", "/chat/completions", "createChatCompletion"},
		{"GET", "/assistants/asst_123", "getAssistant"},
		{"GET", "/responses/resp_1", "getResponse"},
	}
	for _, tt := range tests {
		m, err := s.Match(tt.method, tt.path)
		if err != nil || m.Operation.ID != tt.id {
			t.Errorf("Match(%s %s) = %v, %v; want %s", tt.method, tt.path, m, err, tt.id)
		}
	}
	// every routable operation of both real specs is reached by a path
	// built from its template, with no tie between templates
	for _, path := range []string{openaiSpec, doSpec} {
		needFile(t, path)
		if path != openaiSpec {
			if s, err = Load(path); err != nil {
				t.Fatal(err)
			}
		}
		routed := 0
		for _, o := range s.Operations {
			if strings.ContainsAny(o.Template, "?#") {
				continue
			}
			p := strings.NewReplacer("{", "x", "}", "").Replace(o.Template)
			var enc []byte
			for _, seg := range strings.Split(p[1:], "/") {
				enc = appendEscaped(append(enc, '/'), seg)
			}
			m, err := s.Match(o.Method, string(enc))
			if err != nil {
				t.Errorf("Match(%s %s) for %s: %v", o.Method, p, o.ID, err)
				continue
			}
			if m.Operation != o && strings.Contains(o.Template, "{") && m.Operation.Template == p {
				continue // a literal template equal to the filled-in path wins, correctly
			}
			if m.Operation != o {
				t.Errorf("Match(%s %s) = %s, want %s", o.Method, p, m.Operation.ID, o.ID)
			}
			routed++
		}
		if routed < len(s.Operations)*9/10 {
			t.Errorf("%s: only %d of %d operations routed", path, routed, len(s.Operations))
		}
	}
}

func TestTrimBasePath(t *testing.T) {
	for _, tc := range []struct {
		base, raw, rest string
		ok              bool
	}{
		{"", "/users", "/users", true},
		{"/v1", "/v1/users", "/users", true},
		{"/v1", "/v1/", "/", true},
		{"/v1", "/v1/users?x=/v1", "/users?x=/v1", true},
		{"/v1", "/v1", "", false},
		{"/v1", "/v1?x", "", false},
		{"/v1", "/v10/users", "", false},
		{"/v1", "/V1/users", "", false},
		{"/v1", "/%761/users", "", false},
		{"/v1", "/v1%2Fusers", "", false},
		{"/v1", "/v1;a/users", "", false},
		{"/v1", "/users", "", false},
		{"/a/b", "/a/b/c", "/c", true},
	} {
		rest, ok := TrimBasePath(tc.base, tc.raw)
		if rest != tc.rest || ok != tc.ok {
			t.Errorf("TrimBasePath(%q, %q) = %q, %v; want %q, %v", tc.base, tc.raw, rest, ok, tc.rest, tc.ok)
		}
	}
}

func TestCheckBasePath(t *testing.T) {
	for _, ok := range []string{"", "/v1", "/api/v2", "/a-b_c~d"} {
		if err := CheckBasePath(ok); err != nil {
			t.Errorf("CheckBasePath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"v1", "/v1/", "/", "/a/../b", "/a//b", "/a%2Fb", "/a;b", "/a b", "/%76"} {
		if CheckBasePath(bad) == nil {
			t.Errorf("CheckBasePath(%q) accepted", bad)
		}
	}
}
