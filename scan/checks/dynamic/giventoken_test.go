package dynamic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// GH2003 and GH2004 judge the identities' tokens offline. Their coverage
// says what they judged, target-wide: skipped when no identity holds a JWT
// (they used to count as tested on every operation the crawl reached),
// tested with what they looked at otherwise.
func TestTokenChecksCoverage(t *testing.T) {
	srv := httptest.NewServer(newToy(t, vuln{}))
	defer srv.Close()
	rs := scan.B64(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." +
		scan.B64(map[string]any{"sub": "alice", "iat": time.Now().Unix(), "exp": time.Now().Add(15 * time.Minute).Unix()}) + ".c2ln"
	for _, tc := range []struct {
		name, token string
		status      string
		reason      map[string]string // check → what its reason or coverage line says
	}{
		{"opaque", "d41d8cd98f00b204e9800998ecf8427e", "skipped", map[string]string{"GH2003": "no identity holds a JWT", "GH2004": "no identity holds a JWT"}},
		{"RS256", rs, scan.CoverTested, map[string]string{"GH2003": "signed with RS256: no HMAC secret", "GH2004": "judged the exp and iat of 1 token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := scan.ParseIdentity("alice=bearer:" + tc.token)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := scan.NewTarget(toySpec(t), srv.URL, []*scan.Identity{id}, scan.NewClient(scan.ClientOptions{Budget: 500}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.WeakSecret{}, dynamic.TokenLifetime{}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Checks {
				line := scan.CoverageLine(c)
				if c.Status != tc.status || !strings.Contains(line, tc.reason[c.Meta.ID]) {
					t.Errorf("%s: %s, line %q; want %s with %q", c.Meta.ID, c.Status, line, tc.status, tc.reason[c.Meta.ID])
				}
				if n := c.Counts()[scan.CoverTested]; n != 0 {
					t.Errorf("%s: %d operations tested by an offline token check", c.Meta.ID, n)
				}
			}
			if len(res.Findings) != 0 {
				t.Errorf("findings on a 15-minute RS256 token: %v", res.Findings)
			}
		})
	}
}
