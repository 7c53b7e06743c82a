package policy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

// testOps is the API the tests protect.
func testOps() []Operation {
	intP := func(name, in string) Param { return Param{Name: name, In: in, Type: celpolicy.Int} }
	return []Operation{
		{ID: "getUser", Method: "GET", Template: "/users/{user_id}", Tags: []string{"users"}, Params: []Param{intP("user_id", InPath)}},
		{ID: "updateUser", Method: "PATCH", Template: "/users/{user_id}", Tags: []string{"users"}, JSONBody: true,
			Params: []Param{intP("user_id", InPath), intP("user_id", InBody), {Name: "name", In: InBody}}},
		{ID: "listOrders", Method: "GET", Template: "/orders", Params: []Param{intP("user_id", InQuery)}},
		{ID: "createOrder", Method: "POST", Template: "/orders", JSONBody: true, Params: []Param{intP("user_id", InBody)}},
		{ID: "listProjects", Method: "GET", Template: "/orgs/{org_id}/projects", Params: []Param{intP("org_id", InPath)}},
		{ID: "getDoc", Method: "GET", Template: "/docs/{doc_id}", Params: []Param{{Name: "doc_id", In: InPath, Type: celpolicy.String}}},
		{ID: "getNote", Method: "GET", Template: "/notes/{owner}", Params: []Param{{Name: "owner", In: InPath, Type: celpolicy.String}}},
		{ID: "search", Method: "POST", Template: "/search", JSONBody: true},
		{ID: "adminUsers", Method: "GET", Template: "/admin/users", Tags: []string{"admin"}},
		{ID: "adminReindex", Method: "POST", Template: "/admin/reindex"}, // new, untagged admin operation
		{ID: "flags", Method: "GET", Template: "/internal/flags", Tags: []string{"admin"}},
		{ID: "reports", Method: "GET", Template: "/reports"},
		{ID: "health", Method: "GET", Template: "/health"},
		{ID: "me", Method: "GET", Template: "/me"},
	}
}

func testRules() []Rule {
	return []Rule{
		{Key: "getUser", Owner: &Owner{Param: "user_id", Claim: "sub", UnlessRoles: []string{"admin"}}},
		{Key: "PATCH /users/{user_id}", Owner: &Owner{Param: "user_id", Claim: "sub"}},
		{Key: "listOrders", Owner: &Owner{Param: "user_id", Claim: "sub"}},
		{Key: "createOrder", Owner: &Owner{Param: "user_id", Claim: "uid"}},
		{Key: "listProjects", Owner: &Owner{Param: "org_id", Claim: "org_ids"}},
		{Key: "getDoc", Allow: "request.path.doc_id.startsWith(principal.sub + '-') || 'admin' in principal.roles"},
		{Key: "getNote", Owner: &Owner{Param: "owner", Claim: "sub"}},
		{Key: "search", Allow: "request.body == null || request.body.tenant == principal.claims.tenant"},
		{Key: "tag:admin", Roles: []string{"admin"}},
		{Key: "path:/admin/**", Roles: []string{"admin"}},
		{Key: "reports", RolesAll: []string{"staff", "finance"}, Scopes: []string{"reports:read"}},
		{Key: "health", Public: true},
	}
}

var principals = map[string]*authn.Principal{
	"alice":    {Subject: "1", Roles: []string{"user"}, Claims: map[string]any{"uid": float64(1), "org_ids": []any{float64(10), float64(11)}, "tenant": "t1"}},
	"bob":      {Subject: "2", Roles: []string{"user"}, Claims: map[string]any{"uid": float64(2), "org_ids": []any{float64(20)}, "tenant": "t2"}},
	"admin":    {Subject: "99", Roles: []string{"admin"}, Claims: map[string]any{}},
	"staff":    {Subject: "7", Roles: []string{"staff", "finance"}, Scopes: []string{"reports:read"}},
	"half":     {Subject: "8", Roles: []string{"staff"}, Scopes: []string{"reports:read"}},
	"alicestr": {Subject: "alice", Roles: []string{"user"}},
}

// fakeAuthn puts the principal named by X-Who in the context: a stand-in for
// the authn stage (whose own tests cover token verification).
func fakeAuthn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principals[r.Header.Get("X-Who")]; p != nil {
			r = r.WithContext(authn.NewContext(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// newServer serves the test API on a real listener with Go's ServeMux doing
// the routing and the policy wrapping each handler (library mode).
func newServer(t *testing.T, pol *Policy) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The upstream still sees the whole body after the policy read it.
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body-Len", itoa(len(b)))
		io.WriteString(w, "ok")
	})
	for _, op := range testOps() {
		mux.Handle(op.Method+" "+op.Template, pol.Middleware(ok))
	}
	srv := httptest.NewServer(fakeAuthn(mux))
	t.Cleanup(srv.Close)
	return srv
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func mustNew(t testing.TB, o Options) *Policy {
	t.Helper()
	if o.Operations == nil {
		o.Operations = testOps()
	}
	if o.Rules == nil {
		o.Rules = testRules()
	}
	if o.Resolve == nil {
		o.Resolve = PatternRoute
	}
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

type reqCase struct {
	name, who, method, target, ctype, body string
	want                                   int
}

func runCases(t *testing.T, srv *httptest.Server, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.target, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.who != "" {
				req.Header.Set("X-Who", tc.who)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s as %q = %d %s, want %d", tc.method, tc.target, tc.who, resp.StatusCode, rb, tc.want)
			}
			if tc.want >= 400 {
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("denial Content-Type = %q, want problem+json", ct)
				}
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if tc.want == 200 && tc.body != "" && resp.Header.Get("X-Body-Len") != itoa(len(tc.body)) {
				t.Errorf("upstream got %s body bytes, want %d", resp.Header.Get("X-Body-Len"), len(tc.body))
			}
		})
	}
}

func TestDefaultStance(t *testing.T) {
	for _, tc := range []struct {
		stance     Stance
		anon, user int
	}{
		{Deny, 403, 403},
		{Authenticated, 401, 200},
		{Public, 200, 200},
	} {
		t.Run(tc.stance.String(), func(t *testing.T) {
			srv := newServer(t, mustNew(t, Options{Default: tc.stance}))
			runCases(t, srv, []reqCase{
				{name: "anonymous", method: "GET", target: "/me", want: tc.anon},
				{name: "user", who: "alice", method: "GET", target: "/me", want: tc.user},
				// Explicit public rule is public whatever the default.
				{name: "public health", method: "GET", target: "/health", want: 200},
				// A ruled operation needs authentication whatever the default.
				{name: "anon on ruled op", method: "GET", target: "/users/1", want: 401},
			})
		})
	}
}

func TestRBAC(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{Default: Authenticated}))
	runCases(t, srv, []reqCase{
		{name: "roles_all and scopes ok", who: "staff", method: "GET", target: "/reports", want: 200},
		{name: "roles_all missing one", who: "half", method: "GET", target: "/reports", want: 403},
		{name: "no role", who: "alice", method: "GET", target: "/reports", want: 403},
		{name: "anonymous", method: "GET", target: "/reports", want: 401},
	})
}

func TestFunctionLevelGroups(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{Default: Authenticated}))
	runCases(t, srv, []reqCase{
		{name: "tag+path admin as admin", who: "admin", method: "GET", target: "/admin/users", want: 200},
		{name: "tag+path admin as user", who: "alice", method: "GET", target: "/admin/users", want: 403},
		{name: "admin anonymous", method: "GET", target: "/admin/users", want: 401},
		// adminReindex has no rule and no tag: the path group covers it.
		{name: "new admin op covered by path group", who: "alice", method: "POST", target: "/admin/reindex", want: 403},
		{name: "new admin op as admin", who: "admin", method: "POST", target: "/admin/reindex", want: 200},
		// flags lives outside /admin but carries the admin tag.
		{name: "tagged op outside prefix", who: "alice", method: "GET", target: "/internal/flags", want: 403},
		{name: "tagged op as admin", who: "admin", method: "GET", target: "/internal/flags", want: 200},
	})
}

func TestOwnership(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{Default: Authenticated}))
	const js = "application/json"
	runCases(t, srv, []reqCase{
		// path
		{name: "own id", who: "alice", method: "GET", target: "/users/1", want: 200},
		{name: "other id", who: "alice", method: "GET", target: "/users/2", want: 403},
		{name: "admin escape hatch", who: "admin", method: "GET", target: "/users/2", want: 200},
		{name: "leading zero", who: "alice", method: "GET", target: "/users/01", want: 403},
		{name: "plus sign", who: "alice", method: "GET", target: "/users/+1", want: 403},
		{name: "decimal", who: "alice", method: "GET", target: "/users/1.0", want: 403},
		{name: "hex", who: "alice", method: "GET", target: "/users/0x1", want: 403},
		{name: "exponent", who: "alice", method: "GET", target: "/users/1e0", want: 403},
		{name: "leading space", who: "alice", method: "GET", target: "/users/%201", want: 403},
		{name: "trailing space", who: "alice", method: "GET", target: "/users/1%20", want: 403},
		{name: "other id leading zero", who: "alice", method: "GET", target: "/users/02", want: 403},
		{name: "negative zero", who: "alice", method: "GET", target: "/users/-0", want: 403},
		{name: "overflow", who: "alice", method: "GET", target: "/users/18446744073709551617", want: 403},
		{name: "encoded digit", who: "alice", method: "GET", target: "/users/%31", want: 200}, // %31 is "1" after the router decodes
		// path + query: every location must agree
		{name: "query repeats own id", who: "alice", method: "GET", target: "/users/1?user_id=1", want: 200},
		{name: "query smuggles other id", who: "alice", method: "GET", target: "/users/1?user_id=2", want: 403},
		{name: "query upper-case name", who: "alice", method: "GET", target: "/users/1?USER_ID=2", want: 403},
		{name: "query array syntax", who: "alice", method: "GET", target: "/users/1?user_id[]=2", want: 403},
		{name: "query php dot mangling", who: "alice", method: "GET", target: "/users/1?user.id=2", want: 403},
		{name: "query encoded name", who: "alice", method: "GET", target: "/users/1?user%5Fid=2", want: 403},
		{name: "query semicolon separator", who: "alice", method: "GET", target: "/users/1?a=b;user_id=2", want: 403},
		{name: "query malformed escape", who: "alice", method: "GET", target: "/users/1?user_id=%zz", want: 403},
		// query only
		{name: "query own", who: "alice", method: "GET", target: "/orders?user_id=1", want: 200},
		{name: "query other", who: "alice", method: "GET", target: "/orders?user_id=2", want: 403},
		{name: "query absent", who: "alice", method: "GET", target: "/orders", want: 403},
		{name: "query repeated mixed", who: "alice", method: "GET", target: "/orders?user_id=1&user_id=2", want: 403},
		{name: "query repeated reversed", who: "alice", method: "GET", target: "/orders?user_id=2&user_id=1", want: 403},
		{name: "query repeated same", who: "alice", method: "GET", target: "/orders?user_id=1&user_id=1", want: 200},
		{name: "query leading zero", who: "alice", method: "GET", target: "/orders?user_id=01", want: 403},
		{name: "query empty value", who: "alice", method: "GET", target: "/orders?user_id", want: 403},
		{name: "query plus as space", who: "alice", method: "GET", target: "/orders?user_id=1+", want: 403},
		// body (claim uid is a JSON number in the token)
		{name: "body own", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,"item":"x"}`, want: 200},
		{name: "body other", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":2}`, want: 403},
		{name: "body absent", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"item":"x"}`, want: 403},
		{name: "body duplicate key", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,"user_id":2}`, want: 403},
		{name: "body duplicate key reversed", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":2,"user_id":1}`, want: 403},
		{name: "body unicode escaped key", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,"\u0075ser_id":2}`, want: 403},
		{name: "body case variant key", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,"User_Id":2}`, want: 403},
		{name: "body kelvin-sign fold", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,"id":3,"user_\u212A":2}`, want: 200}, // not a fold of user_id: ignored
		{name: "body 1.0", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1.0}`, want: 403},
		{name: "body 1e0", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1e0}`, want: 403},
		{name: "body string own", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":"1"}`, want: 200},
		{name: "body string 01", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":"01"}`, want: 403},
		{name: "body null", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":null}`, want: 403},
		{name: "body array", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":[1,2]}`, want: 403},
		{name: "body invalid json", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1,`, want: 403},
		{name: "body trailing value", who: "alice", method: "POST", target: "/orders", ctype: js, body: `{"user_id":1}{"user_id":2}`, want: 403},
		{name: "body json sent as text/plain", who: "alice", method: "POST", target: "/orders", ctype: "text/plain", body: `{"user_id":2}`, want: 403},
		{name: "body json without content type", who: "alice", method: "POST", target: "/orders", body: `{"user_id":2}`, want: 403},
		{name: "body form", who: "alice", method: "POST", target: "/orders", ctype: "application/x-www-form-urlencoded", body: `user_id=2`, want: 403},
		{name: "body plus query pollution", who: "alice", method: "POST", target: "/orders?user_id=2", ctype: js, body: `{"user_id":1}`, want: 403},
		// path + body
		{name: "patch own", who: "alice", method: "PATCH", target: "/users/1", ctype: js, body: `{"name":"a"}`, want: 200},
		{name: "patch body retargets", who: "alice", method: "PATCH", target: "/users/1", ctype: js, body: `{"user_id":2,"name":"a"}`, want: 403},
		{name: "patch other path own body", who: "alice", method: "PATCH", target: "/users/2", ctype: js, body: `{"user_id":1}`, want: 403},
		// nested resource: list claim
		{name: "org member", who: "alice", method: "GET", target: "/orgs/11/projects", want: 200},
		{name: "org not member", who: "alice", method: "GET", target: "/orgs/20/projects", want: 403},
		{name: "org leading zero", who: "alice", method: "GET", target: "/orgs/010/projects", want: 403},
		{name: "org pollution", who: "alice", method: "GET", target: "/orgs/10/projects?org_id=20", want: 403},
		// string ids compare exactly
		{name: "string own", who: "alicestr", method: "GET", target: "/notes/alice", want: 200},
		{name: "string case", who: "alicestr", method: "GET", target: "/notes/Alice", want: 403},
		{name: "string trailing space", who: "alicestr", method: "GET", target: "/notes/alice%20", want: 403},
		{name: "string other", who: "alicestr", method: "GET", target: "/notes/bob", want: 403},
	})
}

func TestCELRules(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{Default: Authenticated}))
	const js = "application/json"
	runCases(t, srv, []reqCase{
		{name: "own doc", who: "alice", method: "GET", target: "/docs/1-report", want: 200},
		{name: "other doc", who: "alice", method: "GET", target: "/docs/2-report", want: 403},
		{name: "prefix trick", who: "alice", method: "GET", target: "/docs/12-report", want: 403},
		{name: "admin doc", who: "admin", method: "GET", target: "/docs/2-report", want: 200},
		{name: "body tenant own", who: "alice", method: "POST", target: "/search", ctype: js, body: `{"tenant":"t1"}`, want: 200},
		{name: "body tenant other", who: "alice", method: "POST", target: "/search", ctype: js, body: `{"tenant":"t2"}`, want: 403},
		{name: "body tenant duplicate", who: "alice", method: "POST", target: "/search", ctype: js, body: `{"tenant":"t1","tenant":"t2"}`, want: 403},
		{name: "body tenant case duplicate", who: "alice", method: "POST", target: "/search", ctype: js, body: `{"tenant":"t1","TENANT":"t2"}`, want: 403},
		{name: "body tenant nested duplicate", who: "alice", method: "POST", target: "/search", ctype: js, body: `{"tenant":"t1","q":{"a":1,"a":2}}`, want: 403},
		{name: "no body", who: "alice", method: "POST", target: "/search", want: 200},
		{name: "missing field errors", who: "alice", method: "POST", target: "/search", ctype: js, body: `{}`, want: 403},
	})
}

func TestMonitorMode(t *testing.T) {
	reg := prometheus.NewRegistry()
	pol := mustNew(t, Options{Default: Authenticated, Metrics: reg,
		ModeFor: func(*gatehouse.Route) gatehouse.Mode { return gatehouse.Monitor }})
	rec := &gatehouse.Record{}
	h := pol.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	req := httptest.NewRequest("GET", "/users/2", nil)
	req.Pattern = "GET /users/{user_id}"
	req.SetPathValue("user_id", "2")
	ctx := authn.NewContext(gatehouse.NewRecordContext(req.Context(), rec), principals["alice"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req.WithContext(ctx))
	if w.Code != 204 {
		t.Fatalf("monitor mode status = %d, want 204 (let through)", w.Code)
	}
	s := rec.Snapshot()
	if s.Stage != "" || len(s.Monitored) != 1 || !strings.HasPrefix(s.Monitored[0], "authz: getUser: owner: path user_id=\"2\" does not match claim sub") {
		t.Fatalf("record = stage %q reason %q monitored %q", s.Stage, s.Reason, s.Monitored)
	}
	if got := counterValue(pol.counter.WithLabelValues("getUser", "monitor")); got != 1 {
		t.Fatalf("monitor counter = %v, want 1", got)
	}
}

func TestEnforceRecordAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	pol := mustNew(t, Options{Default: Authenticated, Metrics: reg})
	// A second policy on the same registry (a reload) reuses the collector.
	pol2 := mustNew(t, Options{Default: Authenticated, Metrics: reg})
	if pol.counter != pol2.counter {
		t.Fatal("reload did not reuse the registered counter")
	}
	do := func(who, target string) (*httptest.ResponseRecorder, gatehouse.RecordView) {
		rec := &gatehouse.Record{}
		req := httptest.NewRequest("GET", target, nil)
		req.Pattern = "GET /users/{user_id}"
		req.SetPathValue("user_id", strings.TrimPrefix(target, "/users/"))
		ctx := gatehouse.NewRecordContext(req.Context(), rec)
		if p := principals[who]; p != nil {
			ctx = authn.NewContext(ctx, p)
		}
		w := httptest.NewRecorder()
		pol.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, req.WithContext(ctx))
		return w, rec.Snapshot()
	}
	w, s := do("alice", "/users/2")
	if w.Code != 403 || s.Stage != "authz" || !strings.HasPrefix(s.Reason, "getUser: owner:") {
		t.Fatalf("deny: %d stage %q reason %q", w.Code, s.Stage, s.Reason)
	}
	if strings.Contains(w.Body.String(), "owner") || strings.Contains(w.Body.String(), "user_id") {
		t.Fatalf("body leaks the reason: %s", w.Body)
	}
	w, s = do("", "/users/2")
	if w.Code != 401 || s.Stage != "authz" {
		t.Fatalf("anonymous: %d stage %q reason %q", w.Code, s.Stage, s.Reason)
	}
	do("alice", "/users/1")
	for _, c := range []struct {
		rule, outcome string
		want          float64
	}{{"getUser", "deny", 1}, {"getUser", "unauthenticated", 1}, {"getUser", "allow", 1}} {
		if got := counterValue(pol.counter.WithLabelValues(c.rule, c.outcome)); got != c.want {
			t.Errorf("counter{%s,%s} = %v, want %v", c.rule, c.outcome, got, c.want)
		}
	}
}

func TestAuthorizeErrors(t *testing.T) {
	pol := mustNew(t, Options{Default: Authenticated})
	req := httptest.NewRequest("GET", "/users/2", nil)
	req.Pattern = "GET /users/{user_id}"
	req.SetPathValue("user_id", "2")
	err := pol.Authorize(context.Background(), principals["alice"], req)
	var d *authz.Denial
	if !errors.Is(err, authz.ErrDenied) || errors.Is(err, authz.ErrUnauthenticated) || !errors.As(err, &d) || d.Rule != "getUser" || d.Status != 403 {
		t.Fatalf("Authorize(other id) = %v", err)
	}
	err = pol.Authorize(context.Background(), nil, req)
	if !errors.Is(err, authz.ErrUnauthenticated) || !errors.Is(err, authz.ErrDenied) {
		t.Fatalf("Authorize(anonymous) = %v, want ErrUnauthenticated", err)
	}
	// Not routed, or routed to an operation the policy does not know: deny.
	if err := pol.Authorize(context.Background(), principals["admin"], httptest.NewRequest("GET", "/x", nil)); !errors.Is(err, authz.ErrDenied) {
		t.Fatalf("unrouted = %v, want denied", err)
	}
	unk := httptest.NewRequest("GET", "/x", nil)
	unk.Pattern = "GET /x"
	if err := pol.Authorize(context.Background(), principals["admin"], unk); !errors.Is(err, authz.ErrDenied) {
		t.Fatalf("unknown op = %v, want denied", err)
	}
}

func TestPublicOperations(t *testing.T) {
	for _, tc := range []struct {
		stance Stance
		want   string
	}{
		{Authenticated, "health"},
		{Deny, "health"},
		{Public, "health me"},
	} {
		pol := mustNew(t, Options{Default: tc.stance})
		if got := strings.Join(pol.PublicOperations(), " "); got != tc.want {
			t.Errorf("PublicOperations(%v) = %q, want %q", tc.stance, got, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []Rule
		key   string
		field string
		want  string
	}{
		{"cel type error", []Rule{{Key: "getUser", Allow: "request.path.user_id == principal.sub"}}, "getUser", "allow", "no matching overload"},
		{"cel unknown param", []Rule{{Key: "getUser", Allow: "request.path.usr_id == 1"}}, "getUser", "allow", "request.path declares: user_id int"},
		{"cel not bool", []Rule{{Key: "getUser", Allow: "request.path.user_id + 1"}}, "getUser", "allow", "want bool"},
		{"cel syntax", []Rule{{Key: "getUser", Allow: "principal.sub =="}}, "getUser", "allow", "Syntax error"},
		{"cel type error in group", []Rule{{Key: "tag:users", Allow: "request.path.user_id == 'x'"}}, "tag:users", "allow", "no matching overload"},
		{"unknown operation", []Rule{{Key: "getUsr", Roles: []string{"a"}}}, "getUsr", "", "matches no operation"},
		{"unknown tag", []Rule{{Key: "tag:amdin", Roles: []string{"a"}}}, "tag:amdin", "", "matches no operation"},
		{"unknown path", []Rule{{Key: "path:/amdin/**", Roles: []string{"a"}}}, "path:/amdin/**", "", "matches no operation"},
		{"unknown route", []Rule{{Key: "GET /users/{id}", Roles: []string{"a"}}}, "GET /users/{id}", "", "matches no operation"},
		{"bad key", []Rule{{Key: "get user", Roles: []string{"a"}}}, "get user", "", "neither"},
		{"public on group", []Rule{{Key: "tag:admin", Public: true}}, "tag:admin", "public", "only allowed on an operation"},
		{"public under group", []Rule{{Key: "path:/admin/**", Roles: []string{"admin"}}, {Key: "adminUsers", Public: true}}, "adminUsers", "public", "cannot override"},
		{"public with roles", []Rule{{Key: "health", Public: true, Roles: []string{"a"}}}, "health", "public", "cannot be combined"},
		{"no condition", []Rule{{Key: "health"}}, "health", "", "no condition"},
		{"owner param undeclared", []Rule{{Key: "health", Owner: &Owner{Param: "user_id", Claim: "sub"}}}, "health", "owner.param", "does not declare"},
		{"two keys one op", []Rule{{Key: "getUser", Roles: []string{"a"}}, {Key: "GET /users/{user_id}", Roles: []string{"b"}}}, "getUser", "", "already addressed"},
		{"star in segment", []Rule{{Key: "path:/adm*", Roles: []string{"a"}}}, "path:/adm*", "", "either * or **"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Operations: testOps(), Rules: tc.rules})
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("New = %v, want *RuleError", err)
			}
			if re.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v (key %q field %q), want key %q field %q containing %q", err, re.Key, re.Field, tc.key, tc.field, tc.want)
			}
			if re.Key != tc.key && !(tc.name == "two keys one op" && re.Key == "getUser") {
				t.Fatalf("RuleError.Key = %q, want %q", re.Key, tc.key)
			}
		})
	}
}

func TestPathPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, template string
		want              bool
	}{
		{"/admin/**", "/admin", true},
		{"/admin/**", "/admin/users", true},
		{"/admin/**", "/admin/users/{id}", true},
		{"/admin/**", "/Admin/users", true}, // case-insensitive: over-cover, never under-cover
		{"/admin/**", "/administrator", false},
		{"/admin/**", "/api/admin", false},
		{"/admin/*", "/admin/users", true},
		{"/admin/*", "/admin/users/{id}", false},
		{"/admin/*", "/admin", false},
		{"/*/admin/**", "/v1/admin/x", true},
		{"/users/{user_id}", "/users/{user_id}", true},
		{"/", "/", true},
		{"/", "/x", false},
		{"/**", "/anything/at/all", true},
	} {
		k, err := parseKey("path:" + tc.pattern)
		if err != nil {
			t.Fatalf("parseKey(%q): %v", tc.pattern, err)
		}
		if got := k.matches(&Operation{Template: tc.template}); got != tc.want {
			t.Errorf("path:%s matches %s = %v, want %v", tc.pattern, tc.template, got, tc.want)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{Default: Authenticated, MaxBody: 64}))
	runCases(t, srv, []reqCase{
		{name: "small", who: "alice", method: "POST", target: "/orders", ctype: "application/json", body: `{"user_id":1}`, want: 200},
		{name: "large", who: "alice", method: "POST", target: "/orders", ctype: "application/json", body: `{"user_id":1,"pad":"` + strings.Repeat("x", 100) + `"}`, want: 403},
	})
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
