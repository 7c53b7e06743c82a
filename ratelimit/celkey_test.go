package ratelimit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// celReq builds a request with optional headers, principal and route.
func celReq(remote string, hdr http.Header, p *authn.Principal, rt *gatehouse.Route, target string) *http.Request {
	if target == "" {
		target = "/"
	}
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header[k] = v
	}
	ctx := r.Context()
	if p != nil {
		ctx = authn.NewContext(ctx, p)
	}
	if rt != nil {
		ctx = gatehouse.WithRoute(ctx, rt)
	}
	return r.WithContext(ctx)
}

func celKey(t *testing.T, words ...string) ratelimit.Key {
	t.Helper()
	k, err := ratelimit.ParseKey(words, nil)
	if err != nil {
		t.Fatalf("ParseKey(%q): %v", words, err)
	}
	return k
}

func TestCELKeyCompile(t *testing.T) {
	good := []string{
		`request.headers["x-tenant"]`,
		`principal.sub`,
		`principal.claims.org_id`, // dyn: checked at run time
		`size(principal.roles)`,   // int
		`principal.authenticated`, // bool
		`uint(3)`,
		`request.path.user_id + ":" + request.method`,
		`request.query["page"][0]`,
		`request.ip`,
		`request.operation == "login" ? request.ip : principal.sub`,
		`principal.claims.?org.orValue("none")`,
	}
	for _, e := range good {
		t.Run("good/"+e, func(t *testing.T) {
			k := celKey(t, "cel:"+e)
			if k.Kind() != "cel" {
				t.Fatalf("Kind() = %q, want cel", k.Kind())
			}
		})
	}
	bad := map[string]string{
		`request.nope`:                      "undeclared",
		`principal.roles`:                   "result type",
		`request.headers`:                   "result type",
		`1.5`:                               "result type",
		`request.body`:                      "undeclared", // not offered to keys
		`request.time`:                      "undeclared",
		`request.headers["a"] +`:            "Syntax error",
		`principal.sub == 1`:                "no matching overload",
		`request.path.id == 1`:              "no matching overload", // path values are strings
		`principal.roles.exists(r`:          "Syntax error",
		`timestamp("2020-01-01T00:00:00Z")`: "result type",
	}
	for e, want := range bad {
		t.Run("bad/"+e, func(t *testing.T) {
			_, err := ratelimit.ParseKey([]string{"ip", "cel:" + e}, nil)
			if !errors.Is(err, ratelimit.ErrCELKey) || !strings.Contains(err.Error(), want) {
				t.Fatalf("ParseKey(cel:%s) = %v, want ErrCELKey containing %q", e, err, want)
			}
		})
	}
}

func TestCELKeyValues(t *testing.T) {
	alice := &authn.Principal{Subject: "alice", Issuer: "https://idp", Method: "jwt", Roles: []string{"a", "b"},
		Claims: map[string]any{"org": "acme", "n": 7.0, "f": 1.5, "list": []any{"x"}, "null": nil}}
	rt := &gatehouse.Route{OperationID: "getUser", Template: "/users/{id}", Params: map[string]string{"id": "42"}}
	tests := []struct {
		name, expr string
		r          *http.Request
		want       string // canonical value; "" with wantErr
		wantErr    bool
	}{
		{"header lower-case name", `request.headers["x-tenant"]`, celReq("192.0.2.1:1", http.Header{"X-Tenant": {"t1"}}, nil, nil, ""), "t1", false},
		{"repeated header joined", `request.headers["x-tenant"]`, celReq("192.0.2.1:1", http.Header{"X-Tenant": {"a", "b"}}, nil, nil, ""), "a, b", false},
		{"missing header errors", `request.headers["x-tenant"]`, celReq("192.0.2.1:1", nil, nil, nil, ""), "", true},
		{"missing header with optional", `request.headers[?"x-tenant"].orValue("-")`, celReq("192.0.2.1:1", nil, nil, nil, ""), "-", false},
		{"claim string", `principal.claims.org`, celReq("192.0.2.1:1", nil, alice, nil, ""), "acme", false},
		{"claim integral number", `principal.claims.n`, celReq("192.0.2.1:1", nil, alice, nil, ""), "7", false},
		{"claim fractional number errors", `principal.claims.f`, celReq("192.0.2.1:1", nil, alice, nil, ""), "", true},
		{"claim list errors", `principal.claims.list`, celReq("192.0.2.1:1", nil, alice, nil, ""), "", true},
		{"claim null errors", `principal.claims["null"]`, celReq("192.0.2.1:1", nil, alice, nil, ""), "", true},
		{"missing claim errors", `principal.claims.tenant`, celReq("192.0.2.1:1", nil, alice, nil, ""), "", true},
		{"anonymous claims error", `principal.claims.org`, celReq("192.0.2.1:1", nil, nil, nil, ""), "", true},
		{"anonymous sub empty", `principal.sub`, celReq("192.0.2.1:1", nil, nil, nil, ""), "", false},
		{"int", `size(principal.roles)`, celReq("192.0.2.1:1", nil, alice, nil, ""), "2", false},
		{"bool", `principal.authenticated`, celReq("192.0.2.1:1", nil, alice, nil, ""), "true", false},
		{"uint", `uint(9)`, celReq("192.0.2.1:1", nil, nil, nil, ""), "9", false},
		{"path param", `request.path.id`, celReq("192.0.2.1:1", nil, nil, rt, ""), "42", false},
		{"unrouted path param errors", `request.path.id`, celReq("192.0.2.1:1", nil, nil, nil, ""), "", true},
		{"operation", `request.operation + " " + request.template`, celReq("192.0.2.1:1", nil, nil, rt, ""), "getUser /users/{id}", false},
		{"query", `request.query["page"][0]`, celReq("192.0.2.1:1", nil, nil, nil, "/?page=3&page=4"), "3", false},
		{"ip", `request.ip`, celReq("192.0.2.7:1", nil, nil, nil, ""), "192.0.2.7", false},
		{"ip mapped v6 unmapped", `request.ip`, celReq("[::ffff:192.0.2.7]:1", nil, nil, nil, ""), "192.0.2.7", false},
		{"division by zero errors", `string(1 / (size(principal.roles) - 2))`, celReq("192.0.2.1:1", nil, alice, nil, ""), "", true},
		// The cost limit stops an expression that would build a huge string.
		{"cost limit", `request.query["a"].filter(x, x.startsWith("a")).size()`, celReq("192.0.2.1:1", nil, nil, nil, "/?"+strings.Repeat("a=a&", 3000)), "", true},
		{"under the cost limit", `request.query["a"].filter(x, x.startsWith("a")).size()`, celReq("192.0.2.1:1", nil, nil, nil, "/?"+strings.Repeat("a=a&", 10)), "10", false},
	}
	errBucket := ""
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := celKey(t, "cel:"+tt.expr)
			got, err := k.AppendErr(nil, tt.r)
			if tt.wantErr {
				if !errors.Is(err, ratelimit.ErrCELEval) {
					t.Fatalf("AppendErr = %q, %v; want ErrCELEval", got, err)
				}
				if tt.name == "cost limit" && !strings.Contains(err.Error(), "cost limit exceeded") {
					t.Fatalf("error %v, want the cost limit", err)
				}
				// Every failure of any expression lands in one fixed bucket.
				if errBucket == "" {
					errBucket = string(got)
				} else if string(got) != errBucket {
					t.Fatalf("error bucket %q, want the fixed %q", got, errBucket)
				}
				if k.String(tt.r) != string(got) {
					t.Fatalf("String and AppendErr disagree")
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendErr: %v", err)
			}
			lit := celKey(t, "cel:"+quoteCEL(tt.want))
			if want := lit.String(tt.r); string(got) != want {
				t.Fatalf("key %q, want %q (the key of the literal %q)", got, want, tt.want)
			}
		})
	}
}

func quoteCEL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestCELKeyAttacker: a key built from client-controlled input can neither
// reach another tuple's bucket, nor the error bucket, nor grow without bound.
func TestCELKeyAttacker(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	r := func(h http.Header) *http.Request { return celReq("192.0.2.1:1", h, nil, nil, "") }
	long := strings.Repeat("v", ratelimit.MaxCELKeyLen)
	tests := []struct {
		name string
		k    ratelimit.Key
		a, b *http.Request
	}{
		// Length prefixing: ("ab","c") vs ("a","bc") across two cel parts.
		{"two parts shift a byte", celKey(t, `cel:request.headers["a"]`, `cel:request.headers["b"]`),
			r(hdr("A", "ab", "B", "c")), r(hdr("A", "a", "B", "bc"))},
		// Long values are hashed, not truncated: a shared prefix is not a shared bucket.
		{"long values sharing a prefix", celKey(t, `cel:request.headers["t"]`),
			r(hdr("T", long+"victim")), r(hdr("T", long+"attacker"))},
		// The error bucket cannot be spelled by a value.
		{"value cannot spell the error bucket", celKey(t, `cel:request.headers["t"]`),
			r(hdr("T", "")), r(nil)},
		{"value E cannot spell the error bucket", celKey(t, `cel:request.headers["t"]`),
			r(hdr("T", "E")), r(nil)},
		// A short value cannot spell the hash of a long one.
		{"short value vs hashed value", celKey(t, `cel:request.headers["t"]`),
			r(hdr("T", long+"x")), r(hdr("T", "X"+long[:31]))},
		// Duplicate headers are one joined value, distinct from either alone.
		{"duplicate header is not the first value", celKey(t, `cel:request.headers["t"]`),
			r(hdr("T", "victim", "T", "x")), r(hdr("T", "victim"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := tt.k.String(tt.a), tt.k.String(tt.b)
			if ka == kb {
				t.Fatalf("different tuples share the key %q", ka)
			}
		})
	}
	t.Run("huge header is bounded", func(t *testing.T) {
		k := celKey(t, `cel:request.headers["t"]`)
		got := k.String(r(hdr("T", strings.Repeat("z", 1<<20))))
		if len(got) > ratelimit.MaxCELKeyLen+8 {
			t.Fatalf("key of a 1 MiB header is %d bytes", len(got))
		}
	})
	t.Run("header case and spelling share a bucket", func(t *testing.T) {
		k := celKey(t, `cel:request.headers["x-tenant"]`)
		a := r(http.Header{"X-Tenant": {"t"}})
		b := r(http.Header{"x-tenant": {"t"}}) // non-canonical map key, as a raw HTTP/2 header could be
		if k.String(a) != k.String(b) {
			t.Fatalf("X-Tenant and x-tenant differ")
		}
	})
}

// TestCELKeyFailsClosed: requests whose key expression errors share one
// bucket per limit, so they are limited, and the failure is counted.
func TestCELKeyFailsClosed(t *testing.T) {
	h := newHarness(t, ratelimit.Options{Limits: []ratelimit.Limit{
		lim(t, "per-tenant", "2/min", 2, []string{`cel:request.headers["x-tenant"]`}),
	}})
	// No X-Tenant: the expression errors; different clients share the error bucket.
	for i, want := range []int{200, 200, 429, 429} {
		w, rec := h.do(req{ip: "198.51.100." + string(rune('1'+i))})
		if w.Code != want {
			t.Fatalf("request %d without the header: %d, want %d", i, w.Code, want)
		}
		if got := rec.Snapshot().Attrs["ratelimit_key_error"]; got != "per-tenant" {
			t.Fatalf("record ratelimit_key_error = %q", got)
		}
	}
	if n := h.obs.get("per-tenant/key_error"); n != 4 {
		t.Fatalf("key_error count %d, want 4", n)
	}
	// A tenant that sends the header has its own bucket.
	if w, _ := h.do(req{header: map[string]string{"X-Tenant": "acme"}}); w.Code != 200 {
		t.Fatalf("tenant acme: %d", w.Code)
	}
}

// TestCELKeyHeaderSubset: an expression that reads headers only by constant
// name gets a map of just those headers; it must key exactly like one that
// sees the whole map.
func TestCELKeyHeaderSubset(t *testing.T) {
	reqs := map[string]*http.Request{
		"present":       celReq("192.0.2.1:1", http.Header{"X-Tenant": {"acme"}, "Accept": {"*/*"}}, nil, nil, ""),
		"repeated":      celReq("192.0.2.1:1", http.Header{"X-Tenant": {"a", "b"}}, nil, nil, ""),
		"two spellings": celReq("192.0.2.1:1", http.Header{"X-Tenant": {"a"}, "x-tenant": {"a"}}, nil, nil, ""),
		"absent":        celReq("192.0.2.1:1", http.Header{"Accept": {"*/*"}}, nil, nil, ""),
	}
	pairs := []struct{ subset, whole string }{
		{`request.headers[?"x-tenant"].orValue("-")`, `size(request.headers) >= 0 ? request.headers[?"x-tenant"].orValue("-") : ""`},
		{`"x-tenant" in request.headers`, `request.headers.exists(k, k == "x-tenant")`},
		{`has(request.headers.accept) ? request.headers.accept : "none"`, `request.headers.exists(k, k == "accept") ? request.headers["accept"] : "none"`},
		{`request.headers["X-TENANT"]`, `size(request.headers) >= 0 ? request.headers["X-TENANT"] : ""`}, // never found: names are lower-case
	}
	for _, p := range pairs {
		for name, r := range reqs {
			t.Run(p.subset+"/"+name, func(t *testing.T) {
				a, errA := celKey(t, "cel:"+p.subset).AppendErr(nil, r)
				b, errB := celKey(t, "cel:"+p.whole).AppendErr(nil, r)
				if string(a) != string(b) || (errA == nil) != (errB == nil) {
					t.Fatalf("subset map: %q %v; whole map: %q %v", a, errA, b, errB)
				}
			})
		}
	}
}
