package ratelimit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// accountingRig is rate limiter → "gatehouse stage" → reverse proxy → real
// upstream over 127.0.0.1, the order the gateway uses. The stage rejects
// requests carrying X-Reject (as authz, the WAF or validation would, with
// gatehouse.Decide and a problem body) and, with X-Filter, withholds the
// upstream's response (as the response filter does).
type accountingRig struct {
	t        *testing.T
	clk      *clock
	srv      *httptest.Server
	upStatus int
	upHits   int
}

func newAccountingRig(t *testing.T, lock *ratelimit.LockoutPolicy) *accountingRig {
	rig := &accountingRig{t: t, clk: &clock{t: t0}, upStatus: http.StatusUnauthorized}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.upHits++
		// The upstream imitates gatehouse's own rejection as closely as it can.
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Gatehouse-Stage", "authz")
		w.WriteHeader(rig.upStatus)
		_, _ = io.WriteString(w, `{"type":"about:blank","title":"Forbidden","status":403}`)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	px := httputil.NewSingleHostReverseProxy(u)
	stage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Reject") != "" {
			gatehouse.Decide(r.Context(), gatehouse.Enforce, "authz", "rule")
			problem.Write(w, r, http.StatusForbidden)
			return
		}
		if r.Header.Get("X-Filter") != "" {
			rw := httptest.NewRecorder()
			px.ServeHTTP(rw, r)
			gatehouse.RecordFrom(r.Context()).Block("response", "invalid")
			problem.Write(w, r, http.StatusBadGateway)
			return
		}
		px.ServeHTTP(w, r)
	})
	mw, err := ratelimit.New(ratelimit.Options{Now: rig.clk.Now, Login: &ratelimit.Login{
		Operations: []string{"login"}, AccountField: "/username", Lockout: lock}})
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Wrap(stage)
	// Outer stages: record and route, as the gateway sets them.
	rig.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := gatehouse.NewRecordContext(r.Context(), &gatehouse.Record{RequestID: "r"})
		ctx = gatehouse.WithRoute(ctx, &gatehouse.Route{OperationID: "login", Method: "POST"})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(rig.srv.Close)
	return rig
}

func (rig *accountingRig) login(user string, hdr ...string) int {
	rig.t.Helper()
	req, _ := http.NewRequest("POST", rig.srv.URL+"/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":"x"}`, user)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rig.srv.Client().Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestLockoutCountsOnlyUpstreamAnswers(t *testing.T) {
	lock := &ratelimit.LockoutPolicy{AfterFailures: 3, Base: time.Minute, Max: time.Hour}
	t.Run("gatehouse's own 403 does not lock the victim", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		for i := range 20 {
			if c := rig.login("victim", "X-Reject", "1"); c != 403 {
				t.Fatalf("rejected attempt %d: %d, want gatehouse's 403", i, c)
			}
		}
		if rig.upHits != 0 {
			t.Fatalf("rejected attempts reached the upstream %d times", rig.upHits)
		}
		rig.upStatus = 200
		if c := rig.login("victim"); c != 200 {
			t.Fatalf("victim after 20 gatehouse rejections: %d, want 200 (not locked)", c)
		}
	})
	t.Run("upstream 401 dressed as gatehouse's still counts", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		for i := range 3 {
			if c := rig.login("victim"); c != 401 {
				t.Fatalf("attempt %d: %d", i, c)
			}
		}
		if c := rig.login("victim"); c != 429 {
			t.Fatalf("after 3 upstream 401s that look like gatehouse's: %d, want 429 (locked)", c)
		}
	})
	t.Run("upstream 403 counts", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		rig.upStatus = 403
		for range 3 {
			rig.login("victim")
		}
		if c := rig.login("victim"); c != 429 {
			t.Fatalf("after 3 upstream 403s: %d, want 429", c)
		}
	})
	t.Run("upstream answer withheld by a later stage counts as a failure", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		rig.upStatus = 401
		for i := range 3 {
			if c := rig.login("victim", "X-Filter", "1"); c != 502 {
				t.Fatalf("filtered attempt %d: %d, want 502", i, c)
			}
		}
		if c := rig.login("victim"); c != 429 {
			t.Fatalf("after 3 filtered upstream 401s: %d, want 429 (an attacker cannot hide failures behind the filter)", c)
		}
	})
	t.Run("withheld success does not reset", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		for range 2 {
			rig.login("victim")
		}
		rig.upStatus = 200
		rig.login("victim", "X-Filter", "1") // upstream said 200, the client saw 502
		rig.upStatus = 401
		rig.login("victim")
		if c := rig.login("victim"); c != 429 {
			t.Fatalf("a withheld response reset the failure count: %d, want 429", c)
		}
	})
	t.Run("mixed: only the upstream's failures count", func(t *testing.T) {
		rig := newAccountingRig(t, lock)
		for range 2 {
			rig.login("victim")
			rig.login("victim", "X-Reject", "1")
			rig.login("victim", "X-Reject", "1")
		}
		if c := rig.login("victim"); c != 401 {
			t.Fatalf("2 upstream failures + 4 gatehouse rejections, then: %d, want 401 (third failure, not locked before it)", c)
		}
		if c := rig.login("victim"); c != 429 {
			t.Fatalf("after the third upstream failure: %d, want 429", c)
		}
	})
}
