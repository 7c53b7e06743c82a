package dynamic_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestCredentialsInURL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(a *credAPI)
		want  []string // operation|param
		login bool     // a query login was answered
	}{
		{name: "access_token accepted", set: func(a *credAPI) { a.QueryToken = "access_token" }, want: []string{"listItems|access_token"}},
		{name: "apikey accepted", set: func(a *credAPI) { a.QueryToken = "apikey" }, want: []string{"listItems|apikey"}},
		{name: "password in the query", set: func(a *credAPI) { a.QueryLogin = true }, want: []string{"login|password"}},
		{name: "both", set: func(a *credAPI) { a.QueryToken, a.QueryLogin = "jwt", true }, want: []string{"listItems|jwt", "login|password"}},
		{name: "header only", set: func(a *credAPI) {}},
		{name: "any value of the parameter lets in", set: func(a *credAPI) { a.QueryToken, a.QueryAny = "token", true }},
		{name: "a token for every login", set: func(a *credAPI) { a.QueryLogin, a.TokenToAll = true, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newCredAPI(map[string]string{})
			tc.set(api)
			res := scanCreds(t, api, false, dynamic.CredentialsInURL{})
			got := findingKeys(res.Findings)
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("finding %q missing; got %v", w, keys(got))
				}
			}
			if len(res.Findings) != len(tc.want) {
				for _, f := range res.Findings {
					t.Logf("%s %s: %s", f.Operation, f.Param, f.Detail)
				}
				t.Errorf("got %d findings, want %d", len(res.Findings), len(tc.want))
			}
			for _, f := range res.Findings {
				all := f.Curl
				for _, e := range f.Evidence {
					all += e.Request + e.Response
				}
				for tok := range api.issued {
					if strings.Contains(all, tok) {
						t.Errorf("token %s… in the evidence of %s", tok[:6], f.Param)
					}
				}
				if strings.Contains(all, "mila-long-secret") {
					t.Errorf("password in the evidence of %s", f.Param)
				}
				if len(f.Evidence) != 2 || f.Severity != scan.Medium {
					t.Errorf("finding %+v", f)
				}
			}
			for _, op := range []string{"listItems", "login"} {
				if st, why := coverageOf(res, op); st != scan.CoverTested {
					t.Errorf("%s coverage %s (%s), want tested", op, st, why)
				}
			}
		})
	}
}
