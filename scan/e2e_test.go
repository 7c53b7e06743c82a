package scan_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/demo/vulnapi"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
)

// scanDemo runs every check against the demo API (vulnerable or fixed) as
// alice, bob and admin, the way `gatehouse demo` does.
func scanDemo(t *testing.T, fixed bool) *scan.Result {
	t.Helper()
	api, err := vulnapi.New(vulnapi.Options{Fixed: fixed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes(vulnapi.Spec, "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ids []*scan.Identity
	for _, u := range vulnapi.Users {
		ids = append(ids, scan.NewLoginIdentity(u.Username, "login", map[string]string{"username": u.Username, "password": u.Password}))
	}
	tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 3000, Concurrency: 4}), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: checks.Dynamic(), Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fixed=%v: %d requests, %d findings, wall time %s", fixed, res.Requests, len(res.Findings), time.Since(start).Round(time.Millisecond))
	for _, l := range scan.CleanupSummary(res.Cleanup) {
		t.Logf("%s", l)
	}
	for _, c := range res.Checks {
		if c.Error != "" {
			t.Errorf("check %s did not finish: %s", c.Meta.ID, c.Error)
		}
	}
	return res
}

func TestEndToEndDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scan")
	}
	t.Run("vulnerable", func(t *testing.T) {
		res := scanDemo(t, false)
		got := map[string]bool{}
		for _, f := range res.Findings {
			got[f.CheckID+" "+f.Operation] = true
			t.Logf("%-8s %s %-12s %s", f.Severity, f.CheckID, f.Operation, f.Detail)
		}
		want := []string{
			"GH2003 login",       // HS256 secret "secret"
			"GH2004 login",       // no exp
			"GH2005 logout",      // token valid after logout
			"GH2006 listUsers",   // expired token accepted
			"GH2010 getUser",     // BOLA read
			"GH2010 updateUser",  // BOLA write
			"GH2010 getNote",     // BOLA on notes
			"GH2011 adminStats",  // admin endpoint open to users
			"GH2020 listUsers",   // password hashes in the list
			"GH2021 listUsers",   // undeclared internal fields
			"GH2022 register",    // role mass assignment
			"GH2022 updateUser",  // role mass assignment
			"GH2030 login",       // no login rate limit
			"GH2031 login",       // "unknown user" vs "invalid password"
			"GH2032 listUsers",   // no rate limit on reads
			"GH2040 getUser",     // stack trace on bad input
			"GH2041 getUser",     // non-numeric user_id answered 500
			"GH2041 createNote",  // note text over maxLength stored
			"GH2050 searchUsers", // SQLi, error-based
			"GH2051 searchUsers", // SQLi, boolean-based
			"GH2060 ",            // no security headers
			"GH2061 ",            // CORS reflects any origin with credentials
			"GH2062 ",            // Server version, X-Powered-By
			"GH2063 ",            // TRACE echo
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("blunder not found: %q", w)
			}
		}
		for _, f := range res.Findings {
			if f.CheckID == "GH2001" || f.CheckID == "GH2002" {
				t.Errorf("false positive on the vulnerable API (it checks signatures and demands tokens): %s %s %s", f.CheckID, f.Operation, f.Detail)
			}
		}
	})
	t.Run("fixed", func(t *testing.T) {
		res := scanDemo(t, true)
		var ids []string
		for _, f := range res.Findings {
			ids = append(ids, f.CheckID)
			t.Errorf("false positive on the fixed API: %s %s %s %s: %s", f.Severity, f.CheckID, f.Operation, f.Param, f.Detail)
		}
		sort.Strings(ids)
	})
}

func TestSafeModeAndBudgetProtectTheTarget(t *testing.T) {
	api, err := vulnapi.New(vulnapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	var mu sync.Mutex
	methods := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods[r.Method]++
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	spec, err := openapi.LoadBytes(vulnapi.Spec, "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	newIDs := func() []*scan.Identity {
		return []*scan.Identity{
			scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
			scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
		}
	}
	t.Run("safe", func(t *testing.T) {
		tg, _ := scan.NewTarget(spec, srv.URL, newIDs(), scan.NewClient(scan.ClientOptions{Safe: true}), nil)
		res, err := scan.Run(context.Background(), tg, scan.Options{Checks: checks.Dynamic(), Safe: true})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range []string{"PUT", "PATCH", "DELETE"} {
			if methods[m] != 0 {
				t.Errorf("safe mode sent %d %s requests", methods[m], m)
			}
		}
		skipped := 0
		for _, c := range res.Checks {
			if c.Meta.Intrusive && c.Skipped == "" {
				t.Errorf("intrusive check %s ran in safe mode", c.Meta.ID)
			}
			if c.Skipped != "" {
				skipped++
			}
		}
		if skipped == 0 || len(res.Findings) == 0 {
			t.Errorf("safe scan: %d skipped, %d findings", skipped, len(res.Findings))
		}
	})
	t.Run("budget", func(t *testing.T) {
		tg, _ := scan.NewTarget(spec, srv.URL, newIDs(), scan.NewClient(scan.ClientOptions{Budget: 40}), nil)
		res, err := scan.Run(context.Background(), tg, scan.Options{Checks: checks.Dynamic()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests > 40 {
			t.Errorf("sent %d requests with a budget of 40", res.Requests)
		}
		stopped := 0
		for _, c := range res.Checks {
			if c.Error != "" {
				stopped++
			}
		}
		if stopped == 0 {
			t.Error("no check reported the exhausted budget")
		}
	})
}
