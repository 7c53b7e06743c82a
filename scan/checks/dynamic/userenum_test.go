package dynamic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestUserEnumeration(t *testing.T) {
	expect(t, dynamic.UserEnumeration{}, vuln{UserEnum: true}, "login|")
}

// scanLogin runs GH2031 against h (serving the toy spec's /login) with
// alice as the known login identity.
func scanLogin(t *testing.T, h http.Handler) (*scan.Result, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/login" {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ids := []*scan.Identity{scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"})}
	tg, err := scan.NewTarget(toySpec(t), srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 100}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.UserEnumeration{}}})
	if err != nil {
		t.Fatal(err)
	}
	return res, &n
}

// loginHandler answers failed logins with why(username, attempt).
func loginHandler(why func(user string, n int) (int, any)) http.Handler {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Username == "alice" && in.Password == "alice-pw" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"token":"t"}`)
			return
		}
		status, body := why(in.Username, int(n.Add(1)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}

func TestUserEnumerationCases(t *testing.T) {
	tests := []struct {
		name string
		why  func(user string, n int) (int, any)
		want bool
	}{
		{"status differs", func(u string, _ int) (int, any) {
			if u == "alice" {
				return 401, map[string]any{"error": "invalid credentials"}
			}
			return 404, map[string]any{"error": "invalid credentials"}
		}, true},
		{"echoed username with request id and time stays silent", func(u string, n int) (int, any) {
			return 401, map[string]any{"error": "login failed for " + u, "request_id": fmt.Sprintf("%032x", n*7919),
				"time": time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC).Format(time.RFC3339Nano), "attempt": n}
		}, false},
		{"random difference is not consistent", func(u string, n int) (int, any) {
			if n%4 == 2 { // differs in round 1, not in round 2
				return 401, map[string]any{"error": "bad"}
			}
			return 401, map[string]any{"error": "wrong"}
		}, false},
		{"throttled at once is inconclusive", func(u string, _ int) (int, any) {
			return 429, map[string]any{"error": "slow down " + u}
		}, false},
		{"both 200 with different messages", func(u string, _ int) (int, any) {
			if u == "alice" {
				return 200, map[string]any{"message": "wrong password"}
			}
			return 200, map[string]any{"message": "no such user"}
		}, true},
		{"both 400, same message", func(u string, _ int) (int, any) {
			return 400, map[string]any{"message": "invalid credentials"}
		}, false},
		{"both 200, same message", func(u string, _ int) (int, any) {
			return 200, map[string]any{"message": "invalid credentials"}
		}, false},
		{"5xx is inconclusive", func(u string, _ int) (int, any) {
			if u == "alice" {
				return 500, map[string]any{"error": "boom"}
			}
			return 401, map[string]any{"error": "invalid credentials"}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, n := scanLogin(t, loginHandler(tc.why))
			if got := len(res.Findings) > 0; got != tc.want {
				t.Errorf("finding = %v, want %v (%+v)", got, tc.want, res.Findings)
			}
			// Logins: alice's own, plus at most 8 failed ones from the check
			// (6 when the answers differ), 4 of them for alice.
			max := int32(2*dynamic.UserEnumRounds + 1)
			if !tc.want {
				max = 2*dynamic.UserEnumTimingRounds + 1
			}
			if n.Load() > max {
				t.Errorf("%d requests, want <= %d", n.Load(), max)
			}
			for _, f := range res.Findings {
				if f.CheckID != "GH2031" || f.Fix == "" || len(f.Evidence) != 2 {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}

// On an API that throttles failed logins (the toy answers 429 after 5),
// the login burst GH2030 would leave GH2031 only 429s. The probe phase runs
// GH2031 first, so the enumeration is still confirmed and GH2030 sees the
// limit: one finding, the enumeration.
func TestUserEnumerationBeforeLoginBurst(t *testing.T) {
	fs := scanToy(t, vuln{UserEnum: true}, dynamic.LoginRateLimit{}, dynamic.ReadRateLimit{}, dynamic.UserEnumeration{})
	got := map[string]bool{}
	for _, f := range fs {
		got[f.CheckID] = true
	}
	if !got["GH2031"] {
		t.Errorf("GH2031 silent on a login-throttled API with user enumeration; findings %v", keys(got))
	}
	if got["GH2030"] {
		t.Errorf("GH2030 reported on an API that throttles logins")
	}
	// With every check: the injection probes that reach the login body
	// (GH2050, GH2051) run after the probe phase too.
	fs = scanToy(t, vuln{UserEnum: true}, checks.Dynamic()...)
	got = map[string]bool{}
	for _, f := range fs {
		got[f.CheckID] = true
	}
	// GH2033 too: the toy's /register takes any password, and logs it in.
	if !got["GH2031"] || !got["GH2033"] || len(fs) != 2 {
		t.Errorf("all checks on a login-throttled API with user enumeration: findings %v, want GH2031 and GH2033 only", keys(got))
	}
}
