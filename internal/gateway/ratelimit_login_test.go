package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loginUpstream answers logins the way many third-party APIs do: 200 for
// a failure too, with an error message instead of a token.
type loginUpstream struct {
	*httptest.Server
	hits atomic.Int64
	// mode: "" normal, "huge" a failure body over the condition's prefix,
	// "invalid" a failure body that is not JSON.
	mode atomic.Value
}

func newLoginUpstream(t *testing.T) *loginUpstream {
	u := &loginUpstream{}
	u.mode.Store("")
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case in.Password == "right":
			_, _ = io.WriteString(w, `{"auth_token":"tok-`+in.Username+`"}`)
		case u.mode.Load() == "huge":
			_, _ = io.WriteString(w, hugeFailureBody)
		case u.mode.Load() == "invalid":
			_, _ = io.WriteString(w, `{"auth_token": "x", oops`)
		default:
			_, _ = io.WriteString(w, `{"message":"bad credentials"}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// hugeFailureBody has an auth_token key, but beyond the 16 KiB prefix the
// condition reads: it must count as a failure, not a success.
var hugeFailureBody = `{"message":"bad credentials","pad":"` + strings.Repeat("x", 20<<10) + `","auth_token":"forged"}`

const failureWhenLogin = `  login:
    operations: [login]
    account_field: /username
    failure_when: 'response.status == 200 && !has(response.body.auth_token)'
    lockout: { after_failures: 3, base: 1m, max: 1h }`

func loginPost(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := http.Post(url+"/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLoginFailureWhenLocksOut200Failures: an upstream that answers failed
// logins with 200 + {"message":"bad credentials"} gets the account locked
// after after_failures attempts; the client still receives the upstream's
// body unchanged; a locked attempt never reaches the upstream.
func TestLoginFailureWhenLocksOut200Failures(t *testing.T) {
	up := newLoginUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, &rlUpstream{Server: up.Server}, failureWhenLogin, "", clk)
	for i := range 3 {
		code, body := loginPost(t, srv.URL, "victim", fmt.Sprintf("guess-%d", i))
		if code != 200 || body != `{"message":"bad credentials"}` {
			t.Fatalf("failure %d: %d %q, want the upstream's 200 and body unchanged", i, code, body)
		}
	}
	hits := up.hits.Load()
	if code, _ := loginPost(t, srv.URL, "victim", "right"); code != 429 {
		t.Fatalf("after 3 failures answered 200: %d, want 429 (locked)", code)
	}
	if up.hits.Load() != hits {
		t.Fatal("a locked login reached the upstream")
	}
	// Another account is not locked, and its success is delivered unchanged.
	if code, body := loginPost(t, srv.URL, "alice", "right"); code != 200 || body != `{"auth_token":"tok-alice"}` {
		t.Fatalf("other account: %d %q", code, body)
	}
}

// TestLoginFailureWhenSuccessResets: the legitimate user's success resets
// the failure count, as with the 401/403 default.
func TestLoginFailureWhenSuccessResets(t *testing.T) {
	up := newLoginUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, &rlUpstream{Server: up.Server}, failureWhenLogin, "", clk)
	for round := range 3 {
		for i := range 2 {
			if code, _ := loginPost(t, srv.URL, "victim", "typo"); code != 200 {
				t.Fatalf("round %d failure %d: %d", round, i, code)
			}
		}
		if code, body := loginPost(t, srv.URL, "victim", "right"); code != 200 || !strings.Contains(body, "auth_token") {
			t.Fatalf("round %d: legitimate login after 2 failures: %d %q", round, code, body)
		}
	}
	// Without the resets this would be failure 7; now it is failure 3.
	for range 3 {
		loginPost(t, srv.URL, "victim", "typo")
	}
	if code, _ := loginPost(t, srv.URL, "victim", "right"); code != 429 {
		t.Fatalf("3 failures after the last success: %d, want 429", code)
	}
}

// TestLoginFailureWhenHugeOrInvalidBody: a failure body beyond the bounded
// prefix, or one that is not valid JSON, reads as an empty body: it counts
// as a failure (no crash, no bypass through a token key the condition
// cannot see), and the client still gets every byte.
func TestLoginFailureWhenHugeOrInvalidBody(t *testing.T) {
	for _, mode := range []string{"huge", "invalid"} {
		t.Run(mode, func(t *testing.T) {
			up := newLoginUpstream(t)
			up.mode.Store(mode)
			clk := &rlClock{t: time.Unix(2e9, 0)}
			srv := rlGateway(t, &rlUpstream{Server: up.Server}, failureWhenLogin, "", clk)
			for i := range 3 {
				code, body := loginPost(t, srv.URL, "victim", "guess")
				want := hugeFailureBody
				if mode == "invalid" {
					want = `{"auth_token": "x", oops`
				}
				// The response filter may refuse a body that is not JSON;
				// the huge one must arrive byte for byte.
				if mode == "huge" && (code != 200 || body != want) {
					t.Fatalf("attempt %d: %d, %d bytes, want 200 and the %d-byte body unchanged", i, code, len(body), len(want))
				}
			}
			if code, _ := loginPost(t, srv.URL, "victim", "guess"); code != 429 {
				t.Fatalf("after 3 %s failure bodies: %d, want 429", mode, code)
			}
		})
	}
}

// TestLoginAccountSpellingThroughGateway: the per-account limit cannot be
// dodged by another spelling of the account key, a \u escape or a
// duplicate, and a login without an account is refused, not charged to a
// shared bucket.
func TestLoginAccountSpellingThroughGateway(t *testing.T) {
	up := newRLUpstream(t)
	clk := &rlClock{t: time.Unix(2e9, 0)}
	srv := rlGateway(t, up, `  login:
    operations: [login]
    account_field: /username
    per_account: { rate: "2/h", burst: 2 }`, `trusted_proxies: ["127.0.0.0/8"]`, clk)
	for i := range 2 {
		xff := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)}
		if c := rlDo(t, "POST", srv.URL+"/login", xff, `{"username":"victim","password":"x"}`).StatusCode; c != 200 {
			t.Fatalf("attempt %d: %d", i, c)
		}
	}
	hits := up.hits.Load()
	for i, tt := range []struct {
		body string
		want int
	}{
		{`{"Username":"victim"}`, 429},
		{`{"USERNAME":"Victim"}`, 429},
		{`{"u\u0073ername":"victim"}`, 429},
		{`{"\u0055sername":"victim"}`, 429},
		{`{"username":"other","Username":"victim"}`, 400},
		{`{"username":"victim","u\u0073ername":"other"}`, 400},
		{`{}`, 400},
		{`{"user":"victim"}`, 400},
		{`{"username":""}`, 400},
		{`{"username":{"$ne":null}}`, 400},
	} {
		xff := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
		if c := rlDo(t, "POST", srv.URL+"/login", xff, tt.body).StatusCode; c != tt.want {
			t.Errorf("%s: %d, want %d", tt.body, c, tt.want)
		}
	}
	if n := up.hits.Load() - hits; n != 0 {
		t.Fatalf("%d spelling attempts reached the upstream", n)
	}
}
