package report_test

import (
	"os"
	"time"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/report"
)

func Example() {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := &scan.Result{Target: "http://127.0.0.1:5000", Spec: "api.yaml", Started: t0, Finished: t0.Add(time.Second), Requests: 12,
		Identities: []string{"alice", "bob"},
		Findings: []scan.Finding{{CheckID: "GH2011", Title: "Administrative operation open to a regular user", Severity: scan.High,
			OWASP: scan.API5BFLA, CWE: "CWE-285", Operation: "adminStats", Method: "GET", Path: "/admin/stats",
			Detail: "alice got 200.", Fix: "authz: { rules: { adminStats: { roles: [admin] } } }"}}}
	rep, _ := report.New("console")
	_ = rep.Report(os.Stdout, res)
	// Output:
	// gatehouse scan of http://127.0.0.1:5000 (spec api.yaml): 12 requests in 1s, identities: alice, bob
	//
	// HIGH     GH2011  Administrative operation open to a regular user
	//          GET /admin/stats (adminStats)  API5:2023 Broken Function Level Authorization · CWE-285
	//          alice got 200.
	//          gatehouse fix: authz: { rules: { adminStats: { roles: [admin] } } }
	//
	// OWASP API Top 10 (2023)                        critical  high  medium  low  info
	// API5:2023 Broken Function Level Authorization  0         1     0       0    0
	// total                                          0         1     0       0    0
	//
	// 1 findings; 0 checks run
}
