package policy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/authz/policy"
)

// fakeAuthn stands in for a real authenticator (JWT, API key): it trusts an
// X-User header, which a real service must never do.
func fakeAuthn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-User") {
		case "alice":
			r = r.WithContext(authn.NewContext(r.Context(), &authn.Principal{Subject: "1", Roles: []string{"user"}}))
		case "root":
			r = r.WithContext(authn.NewContext(r.Context(), &authn.Principal{Subject: "99", Roles: []string{"admin"}}))
		}
		next.ServeHTTP(w, r)
	})
}

// A Go service without the gateway: routing by Go 1.22 ServeMux patterns,
// the policy wrapping each handler, ownership and an admin group enforced.
func Example() {
	pol, err := policy.New(policy.Options{
		Default: policy.Authenticated,
		Operations: []policy.Operation{
			{ID: "getUser", Method: "GET", Template: "/users/{user_id}",
				Params: []policy.Param{{Name: "user_id", In: policy.InPath, Type: celpolicy.Int}}},
			{ID: "listUsers", Method: "GET", Template: "/admin/users"},
		},
		Rules: []policy.Rule{
			{Key: "getUser", Owner: &policy.Owner{Param: "user_id", Claim: "sub", UnlessRoles: []string{"admin"}}},
			{Key: "path:/admin/**", Roles: []string{"admin"}},
		},
		Resolve: policy.PatternRoute,
	})
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("GET /users/{user_id}", pol.Middleware(hello))
	mux.Handle("GET /admin/users", pol.Middleware(hello))
	srv := httptest.NewServer(fakeAuthn(mux))
	defer srv.Close()

	for _, c := range []struct{ user, path string }{
		{"alice", "/users/1"},
		{"alice", "/users/2"},  // another user's object
		{"alice", "/users/01"}, // non-canonical id: denied, never guessed
		{"root", "/users/2"},   // unless_roles: admin
		{"alice", "/admin/users"},
		{"", "/users/1"}, // anonymous
	} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		req.Header.Set("X-User", c.user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%-5s %-12s %d\n", c.user, c.path, resp.StatusCode)
	}
	fmt.Println("public:", pol.PublicOperations())
	// Output:
	// alice /users/1     200
	// alice /users/2     403
	// alice /users/01    403
	// root  /users/2     200
	// alice /admin/users 403
	//       /users/1     401
	// public: []
}

// A read whose owner only the handler knows: the policy checks owner_id in
// the JSON response and answers 404 for another user's note.
func ExampleOwnerResponse() {
	pol, err := policy.New(policy.Options{
		Default: policy.Authenticated,
		Operations: []policy.Operation{{ID: "getNote", Method: "GET", Template: "/notes/{note_id}",
			ResponseType: func(string) celpolicy.Type { return celpolicy.Int }}},
		Rules: []policy.Rule{{Key: "getNote", OwnerResponse: &policy.OwnerResponse{
			Field: "/owner_id", Claim: "sub", UnlessRoles: []string{"admin"}}}},
		Resolve: policy.PatternRoute,
	})
	if err != nil {
		panic(err)
	}
	notes := map[string]string{"4": `{"id":4,"owner_id":1}`, "5": `{"id":5,"owner_id":2}`}
	getNote := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, notes[r.PathValue("note_id")]) // forgets to check the owner
	})
	mux := http.NewServeMux()
	mux.Handle("GET /notes/{note_id}", pol.Middleware(getNote))
	srv := httptest.NewServer(fakeAuthn(mux))
	defer srv.Close()
	for _, c := range []struct{ user, path string }{{"alice", "/notes/4"}, {"alice", "/notes/5"}, {"root", "/notes/5"}} {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		req.Header.Set("X-User", c.user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b = []byte("(generic problem body)")
		}
		fmt.Printf("%-5s %-8s %d %s\n", c.user, c.path, resp.StatusCode, b)
	}
	// Output:
	// alice /notes/4 200 {"id":4,"owner_id":1}
	// alice /notes/5 404 (generic problem body)
	// root  /notes/5 200 {"id":5,"owner_id":2}
}
