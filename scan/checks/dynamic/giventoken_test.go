package dynamic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// With identities given as tokens (a gateway-trusted IdP's, a CI secret),
// the checks that need the API's own login cannot test anything. They
// must say so (skipped, with the reason and how to give a login
// identity), never end as "nothing in this API it applies to" or as a
// clean pass: the API here has every one of those blunders.
func TestGivenTokensSayWhatWasNotTested(t *testing.T) {
	srv := httptest.NewServer(newToy(t, vuln{NoRevoke: true, UserEnum: true, NoRateLimit: true}))
	defer srv.Close()
	var ids []*scan.Identity
	for _, u := range []string{"alice", "bob"} {
		b, _ := json.Marshal(map[string]string{"username": u, "password": u + "-pw"})
		resp, err := http.Post(srv.URL+"/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Token string }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.Token == "" {
			t.Fatalf("login as %s: %v %q", u, err, out.Token)
		}
		id, err := scan.ParseIdentity(u + "=bearer:" + out.Token)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	tg, err := scan.NewTarget(toySpec(t), srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 2000}), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := []scan.Check{dynamic.AfterLogout{}, dynamic.UserEnumeration{}, dynamic.WeakPassword{}, dynamic.PredictableTokens{}, dynamic.ExpiredToken{}, dynamic.ReadRateLimit{}}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: cs})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Checks {
		if c.Meta.ID == "GH2032" {
			// The toy's reads advertise their limit: a pass, and tested.
			if c.Status != scan.CoverTested {
				t.Errorf("GH2032 on reads that advertise a limit: %s %q, want tested", c.Status, c.Reason)
			}
			continue
		}
		want := "no identity logs in"
		if c.Meta.ID == "GH2006" {
			want = "cannot be forged"
		}
		if c.Status != "skipped" || !strings.Contains(c.Reason, want) {
			t.Errorf("%s with given tokens: status %s %q, want skipped: …%s…", c.Meta.ID, c.Status, c.Reason, want)
		}
		if line := scan.CoverageLine(c); strings.Contains(line, "NOT TESTED: sent no request") {
			t.Errorf("%s reads as not applicable: %s", c.Meta.ID, line)
		}
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings %v from checks that could not test", res.Findings)
	}
}
