package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
)

// fixed is an Authenticator keyed on the X-Test header: "alice" succeeds,
// "bad" fails with reason expired, absent means no credentials.
type fixed struct{}

func (fixed) Authenticate(r *http.Request) (*authn.Principal, error) {
	switch r.Header.Get("X-Test") {
	case "":
		return nil, authn.ErrNoCredentials
	case "alice":
		return &authn.Principal{Subject: "alice", Method: "jwt", Roles: []string{"admin", "x,evil", "user"}, Scopes: []string{"a"}, TokenID: "t1"}, nil
	default:
		return nil, authn.Fail(authn.ReasonExpired, errors.New("exp 2020-01-01 secret-detail"))
	}
}

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := map[string]any{}
		for k, v := range r.Header {
			h[k] = v
		}
		if p := authn.PrincipalFrom(r.Context()); p != nil {
			h["principal"] = p.Subject
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

func serve(mw gatehouse.Middleware, r *http.Request) (*httptest.ResponseRecorder, map[string]any, *gatehouse.Record) {
	rec := &gatehouse.Record{RequestID: "rid"}
	r = r.WithContext(gatehouse.NewRecordContext(r.Context(), rec))
	w := httptest.NewRecorder()
	mw(echo()).ServeHTTP(w, r)
	var got map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	return w, got, rec
}

func TestMiddleware(t *testing.T) {
	var reasons []string
	mw := authn.Middleware(authn.MiddlewareOptions{
		Authenticators: []authn.Authenticator{fixed{}},
		SubjectHeader:  "X-Gatehouse-Subject", RolesHeader: "X-Gatehouse-Roles", ScopesHeader: "X-User-Scopes",
		OnFailure: func(_ *http.Request, reason string) { reasons = append(reasons, reason) },
	})
	spoof := func(r *http.Request) *http.Request {
		r.Header["X-Gatehouse-Subject"] = []string{"root"}
		r.Header["x-gatehouse-roles"] = []string{"admin"}
		r.Header["X_Gatehouse_Subject"] = []string{"root"}
		r.Header["X_GATEHOUSE_ROLES"] = []string{"admin"}
		r.Header["X-User_Scopes"] = []string{"all"}
		r.Header["X-Gatehouse-Anything"] = []string{"x"}
		return r
	}
	t.Run("authenticated: spoofed headers replaced", func(t *testing.T) {
		r := spoof(httptest.NewRequest("GET", "/", nil))
		r.Header.Set("X-Test", "alice")
		w, got, rec := serve(mw, r)
		if w.Code != 200 || got["principal"] != "alice" {
			t.Fatalf("status %d, principal %v", w.Code, got["principal"])
		}
		want := map[string]string{"X-Gatehouse-Subject": "alice", "X-Gatehouse-Roles": "admin,user", "X-User-Scopes": "a"}
		for k, v := range want {
			if vs, _ := got[k].([]any); len(vs) != 1 || vs[0] != v {
				t.Errorf("upstream header %s = %v, want [%s]", k, got[k], v)
			}
		}
		for _, k := range []string{"x-gatehouse-roles", "X_Gatehouse_Subject", "X_GATEHOUSE_ROLES", "X-User_Scopes", "X-Gatehouse-Anything"} {
			if _, ok := got[k]; ok {
				t.Errorf("spoofed header %s reached the upstream", k)
			}
		}
		if rec.Snapshot().Subject != "alice" {
			t.Errorf("record subject = %q", rec.Snapshot().Subject)
		}
	})
	t.Run("anonymous passes without principal, spoof stripped", func(t *testing.T) {
		w, got, _ := serve(mw, spoof(httptest.NewRequest("GET", "/", nil)))
		if w.Code != 200 || got["principal"] != nil {
			t.Fatalf("status %d, principal %v", w.Code, got["principal"])
		}
		for k := range got {
			if strings.Contains(strings.ToLower(k), "gatehouse") || strings.Contains(k, "Scopes") {
				t.Errorf("spoofed header %s reached the upstream", k)
			}
		}
	})
	t.Run("invalid: 401, generic body, reason to record and metric", func(t *testing.T) {
		reasons = nil
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Test", "bad")
		w, _, rec := serve(mw, r)
		if w.Code != 401 {
			t.Fatalf("status = %d, want 401", w.Code)
		}
		if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="gatehouse", error="invalid_token"` {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if body := w.Body.String(); strings.Contains(body, "expired") || strings.Contains(body, "secret-detail") || !strings.Contains(body, "rid") {
			t.Errorf("body leaks or lacks request id: %s", body)
		}
		if s := rec.Snapshot(); s.Stage != "authn" || s.Reason != "expired" {
			t.Errorf("record = %s/%s, want authn/expired", s.Stage, s.Reason)
		}
		if len(reasons) != 1 || reasons[0] != "expired" {
			t.Errorf("OnFailure reasons = %v", reasons)
		}
	})
	t.Run("monitor mode lets it through anonymously", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Test", "bad")
		r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "op", Mode: gatehouse.Monitor}))
		w, got, rec := serve(mw, r)
		if w.Code != 200 || got["principal"] != nil {
			t.Fatalf("status %d principal %v, want 200 anonymous", w.Code, got["principal"])
		}
		if s := rec.Snapshot(); s.Stage != "" || len(s.Monitored) != 1 || s.Monitored[0] != "authn: expired" {
			t.Errorf("record = %s %v", s.Stage, s.Monitored)
		}
	})
}

func TestLogoutHook(t *testing.T) {
	var revoked []string
	fail := false
	mw := authn.Middleware(authn.MiddlewareOptions{
		Authenticators: []authn.Authenticator{fixed{}},
		IsLogout:       func(r *http.Request) bool { return r.URL.Path == "/logout" },
		OnLogout: func(_ context.Context, p *authn.Principal) error {
			if fail {
				return errors.New("store down")
			}
			revoked = append(revoked, p.TokenID)
			return nil
		},
	})
	upstream := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Up", "1")
			w.WriteHeader(status)
			_, _ = w.Write([]byte("upstream body"))
		})
	}
	run := func(path string, status int) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set("X-Test", "alice")
		w := httptest.NewRecorder()
		mw(upstream(status)).ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, path  string
		status      int
		wantRevoked int
	}{
		{"logout 204 revokes", "/logout", 204, 1},
		{"logout 500 does not", "/logout", 500, 0},
		{"logout 401 does not", "/logout", 401, 0},
		{"other route 200 does not", "/orders", 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			revoked = nil
			w := run(tc.path, tc.status)
			if w.Code != tc.status || len(revoked) != tc.wantRevoked {
				t.Fatalf("status %d revoked %v; want %d and %d revocations", w.Code, revoked, tc.status, tc.wantRevoked)
			}
		})
	}
	t.Run("revocation failure turns the 2xx into 503", func(t *testing.T) {
		fail = true
		w := run("/logout", 200)
		if w.Code != 503 || strings.Contains(w.Body.String(), "upstream body") || w.Header().Get("X-Up") != "" {
			t.Fatalf("status %d body %q, want 503 without the upstream's response", w.Code, w.Body.String())
		}
	})
}
