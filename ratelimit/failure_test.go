package ratelimit_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

func TestCompileFailureWhenRejects(t *testing.T) {
	for _, expr := range []string{``, `response.status`, `response.body`, `request.ip == ""`, `response.status ==`, `"a"`} {
		if _, err := ratelimit.CompileFailureWhen(expr); !errors.Is(err, ratelimit.ErrCELKey) {
			t.Errorf("CompileFailureWhen(%q) = %v, want ErrCELKey", expr, err)
		}
	}
	if _, err := ratelimit.New(ratelimit.Options{Login: &ratelimit.Login{Operations: []string{"login"}, AccountField: "/u",
		PerIP: ratelimit.MustPolicy("ip", "1/s", 1), FailureWhen: mustFailure(t, `response.status == 200`)}}); err == nil {
		t.Error("failure_when without lockout accepted")
	}
}

func mustFailure(t testing.TB, expr string) *ratelimit.FailureCondition {
	t.Helper()
	c, err := ratelimit.CompileFailureWhen(expr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFailureWhenOutcomes: what counts as a failure, a success or neither
// under a condition, answered by the handler behind the middleware (no
// UpstreamTap: the middleware's own writer records the answer).
func TestFailureWhenOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name, expr, ctype, body string
		status                  int
		header                  map[string]string
		locks                   bool // two such answers lock the account
	}{
		{"200 without token fails", `response.status == 200 && !has(response.body.auth_token)`, "application/json", `{"message":"bad credentials"}`, 200, nil, true},
		{"200 with token succeeds", `response.status == 200 && !has(response.body.auth_token)`, "application/json", `{"auth_token":"t"}`, 200, nil, false},
		{"number compared as number", `response.body.code == 4011`, "application/json", `{"code":4011}`, 200, nil, true},
		{"nested field", `response.body.?error.?kind.orValue("") == "bad_password"`, "application/json", `{"error":{"kind":"bad_password"}}`, 200, nil, true},
		{"header read by name", `response.headers[?"x-login-result"].orValue("") == "failed"`, "application/json", `{}`, 200, map[string]string{"X-Login-Result": "failed"}, true},
		{"header absent", `response.headers[?"x-login-result"].orValue("") == "failed"`, "application/json", `{}`, 200, nil, false},
		{"text body is an empty map", `!has(response.body.auth_token)`, "text/plain", `auth_token=x`, 200, nil, true},
		{"array body is not a map: eval error counts as failure", `!has(response.body.auth_token)`, "application/json", `[1]`, 200, nil, true},
		{"missing key error counts as failure", `response.body.message == "ok"`, "application/json", `{}`, 200, nil, true},
		{"duplicate keys: not a JSON view, empty map", `!has(response.body.auth_token)`, "application/json", `{"auth_token":"a","auth_token":"b"}`, 200, nil, true},
		{"401 no longer fails by itself", `response.status == 200 && !has(response.body.auth_token)`, "application/json", `{}`, 401, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := loginOpts(nil, nil, &ratelimit.LockoutPolicy{AfterFailures: 2, Base: time.Minute, Max: time.Hour})
			o.Login.FailureWhen = mustFailure(t, tt.expr)
			h := newHarness(t, o)
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			do := func() *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"victim"}`))
				r.Header.Set("Content-Type", "application/json")
				ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{})
				ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: "login"})
				w := httptest.NewRecorder()
				h.mw.Wrap(next).ServeHTTP(w, r.WithContext(ctx))
				return w
			}
			for i := range 2 {
				if w := do(); w.Code != tt.status || w.Body.String() != tt.body {
					t.Fatalf("answer %d: %d %q, want the handler's %d %q unchanged", i, w.Code, w.Body.String(), tt.status, tt.body)
				}
			}
			if locked := do().Code == 429; locked != tt.locks {
				t.Fatalf("locked after two answers = %v, want %v", locked, tt.locks)
			}
		})
	}
}

// BenchmarkLoginFailureWhen: the cost per login request of the failure
// condition (capture + JSON view + CEL), against the default 401/403 rule.
func BenchmarkLoginFailureWhen(b *testing.B) {
	for _, expr := range []string{"", `response.status == 200 && !has(response.body.auth_token)`, `response.headers[?"x-login"].orValue("") == "failed"`} {
		name := "default"
		if expr != "" {
			name = expr
		}
		b.Run(name, func(b *testing.B) {
			o := loginOpts(nil, nil, &ratelimit.LockoutPolicy{AfterFailures: 1 << 30, Base: time.Minute, Max: time.Hour})
			if expr != "" {
				o.Login.FailureWhen = mustFailure(b, expr)
			}
			mw, err := ratelimit.New(o)
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"message":"bad credentials","request_id":"0123456789abcdef"}`)
			h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			rb := `{"username":"victim","password":"guess"}`
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				r := httptest.NewRequest("POST", "/login", strings.NewReader(rb))
				r.Header.Set("Content-Type", "application/json")
				ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{})
				ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: "login"})
				h.ServeHTTP(nopWriter{http.Header{}}, r.WithContext(ctx))
			}
			_ = fmt.Sprint(i)
		})
	}
}

type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w nopWriter) WriteHeader(int)             {}
