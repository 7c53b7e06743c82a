package dynamic_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestReadRateLimit(t *testing.T) {
	expect(t, dynamic.ReadRateLimit{}, vuln{NoReadLimit: true}, "listUsers|")
}

// scanHandler runs cs against h (which serves the toy spec) as alice, bob
// and admin with client options co, and returns the result.
func scanHandler(t *testing.T, h http.Handler, co scan.ClientOptions, cs ...scan.Check) *scan.Result {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ids := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
		scan.NewLoginIdentity("admin", "login", map[string]string{"username": "admin", "password": "admin-pw"}),
	}
	tg, err := scan.NewTarget(toySpec(t), srv.URL, ids, scan.NewClient(co), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: cs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// limiter answers 429 (no RateLimit header, only the status) once a client
// (its Authorization header) has made more than n reads: a real limit that
// does not advertise itself until it trips.
func limiter(n int, next http.Handler, header string) http.Handler {
	var mu sync.Mutex
	reads := map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			reads[r.Header.Get("Authorization")]++
			over := reads[r.Header.Get("Authorization")] > n
			mu.Unlock()
			if header != "" {
				w.Header().Set(header, "7")
			}
			if over {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestReadRateLimitCases(t *testing.T) {
	tests := []struct {
		name    string
		h       func(t *testing.T) http.Handler
		co      scan.ClientOptions
		finding bool
		skipped string // substring of CheckRun.Skipped
		maxSent int    // requests of GH2032 itself, 0 = no bound checked
	}{
		{name: "no limit", h: func(t *testing.T) http.Handler { return newToy(t, vuln{NoReadLimit: true}) },
			co: scan.ClientOptions{Budget: 500}, finding: true, maxSent: dynamic.ReadBurst},
		{name: "429 after 10 reads, no header before", h: func(t *testing.T) http.Handler {
			return limiter(10, newToy(t, vuln{NoReadLimit: true}), "")
		}, co: scan.ClientOptions{Budget: 500}, maxSent: dynamic.ReadBurst},
		{name: "legacy X-RateLimit-Remaining header", h: func(t *testing.T) http.Handler {
			return limiter(1000, newToy(t, vuln{NoReadLimit: true}), "X-RateLimit-Remaining")
		}, co: scan.ClientOptions{Budget: 500}, maxSent: 0},
		{name: "--rate too low to prove anything", h: func(t *testing.T) http.Handler { return newToy(t, vuln{NoReadLimit: true}) },
			co: scan.ClientOptions{Budget: 500, Rate: 5}, skipped: "--rate 5", maxSent: 0},
		{name: "fast enough --rate still probes", h: func(t *testing.T) http.Handler { return newToy(t, vuln{NoReadLimit: true}) },
			co: scan.ClientOptions{Budget: 500, Rate: 2000}, finding: true, maxSent: dynamic.ReadBurst},
		{name: "budget cannot pay the burst", h: func(t *testing.T) http.Handler { return newToy(t, vuln{NoReadLimit: true}) },
			co: scan.ClientOptions{Budget: 20}, skipped: "budget leaves", maxSent: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := scanHandler(t, tc.h(t), tc.co, dynamic.ReadRateLimit{})
			if got := len(res.Findings) > 0; got != tc.finding {
				t.Errorf("finding = %v, want %v: %+v", got, tc.finding, res.Findings)
			}
			run := res.Checks[0]
			if tc.skipped != "" && !strings.Contains(run.Skipped, tc.skipped) || tc.skipped == "" && run.Skipped != "" {
				t.Errorf("skipped = %q, want %q", run.Skipped, tc.skipped)
			}
			if run.Error != "" {
				t.Errorf("check error: %s", run.Error)
			}
			if tc.maxSent == 0 && run.Requests > 1 || run.Requests > tc.maxSent+1 {
				t.Errorf("GH2032 sent %d requests, want at most %d (+1 baseline)", run.Requests, tc.maxSent)
			}
			for _, f := range res.Findings {
				if f.Operation != "listUsers" || !strings.Contains(f.Detail, "200×30") || !strings.Contains(f.Fix, "key: user") || len(f.Evidence) != 2 {
					t.Errorf("finding %s %s: %s (fix %s, %d evidence)", f.CheckID, f.Operation, f.Detail, f.Fix, len(f.Evidence))
				}
			}
		})
	}
	t.Run("burst stops at the first 429", func(t *testing.T) {
		var n atomic.Int32
		h := limiter(3, newToy(t, vuln{NoReadLimit: true}), "")
		res := scanHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/users" {
				n.Add(1)
			}
			h.ServeHTTP(w, r)
		}), scan.ClientOptions{Budget: 500}, dynamic.ReadRateLimit{Burst: 100})
		if len(res.Findings) != 0 || n.Load() > 20 {
			t.Errorf("%d findings, %d reads of /users: want none, and the burst to stop soon after the 429", len(res.Findings), n.Load())
		}
	})
}
