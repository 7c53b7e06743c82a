package policy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/httpx"
)

// benchAuthorize measures one decision for a request routed (by the
// gateway's router, here a fixed Route in the context) to rt.
func benchAuthorize(b *testing.B, rt *gatehouse.Route, p *authn.Principal, method, target, body string) {
	pol := mustNew(b, Options{Default: Authenticated, Resolve: fromCtx})
	req := httptest.NewRequest(method, target, nil)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	base := gatehouse.WithRoute(context.Background(), rt)
	bb := []byte(body)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.WithContext(httpx.WithBodyCache(base))
		if body != "" {
			r.Body = readCloser{bytes.NewReader(bb)}
		}
		if err := pol.Authorize(r.Context(), p, r); err != nil {
			b.Fatal(err)
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func BenchmarkAuthorize(b *testing.B) {
	b.Run("rbac", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "GET", Template: "/reports"}, principals["staff"], "GET", "/reports", "")
	})
	b.Run("rbac-admin-group", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "GET", Template: "/admin/users"}, principals["admin"], "GET", "/admin/users", "")
	})
	b.Run("cel", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "GET", Template: "/docs/{doc_id}", Params: map[string]string{"doc_id": "1-report"}},
			principals["alice"], "GET", "/docs/1-report", "")
	})
	b.Run("owner-path-query", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "GET", Template: "/users/{user_id}", Params: map[string]string{"user_id": "1"}},
			principals["alice"], "GET", "/users/1?fields=name", "")
	})
	b.Run("owner-body", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "POST", Template: "/orders"},
			principals["alice"], "POST", "/orders", `{"user_id":1,"item":"book","qty":2,"note":"gift wrap please"}`)
	})
	b.Run("cel-body", func(b *testing.B) {
		benchAuthorize(b, &gatehouse.Route{Method: "POST", Template: "/search"},
			principals["alice"], "POST", "/search", `{"tenant":"t1","q":"shoes","limit":20}`)
	})
}

func BenchmarkMiddleware(b *testing.B) {
	pol := mustNew(b, Options{Default: Authenticated, Resolve: fromCtx})
	h := pol.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rt := &gatehouse.Route{Method: "GET", Template: "/users/{user_id}", Params: map[string]string{"user_id": "1"}}
	req := httptest.NewRequest("GET", "/users/1", nil)
	req = req.WithContext(authn.NewContext(gatehouse.WithRoute(req.Context(), rt), principals["alice"]))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

func fromCtx(r *http.Request) *gatehouse.Route { return gatehouse.RouteFrom(r.Context()) }
