package ratelimit_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

func loginOpts(perIP, perAccount *ratelimit.Policy, lock *ratelimit.LockoutPolicy) ratelimit.Options {
	return ratelimit.Options{Login: &ratelimit.Login{
		Operations:   []string{"login"},
		AccountField: "/username",
		PerIP:        perIP,
		PerAccount:   perAccount,
		Lockout:      lock,
	}}
}

// Credential stuffing: one account, many source addresses, spelling variants.
func TestLoginCredentialStuffing(t *testing.T) {
	h := newHarness(t, loginOpts(ratelimit.MustPolicy("login-ip", "100/min", 0), ratelimit.MustPolicy("login-account", "3/min", 3), nil))
	spellings := []string{"victim", "Victim", " VICTIM ", "victim\t"}
	ok := 0
	for i := range 20 {
		body := fmt.Sprintf(`{"username":%q,"password":"guess-%d"}`, spellings[i%len(spellings)], i)
		w, rec := h.do(req{op: "login", ip: fmt.Sprintf("198.51.100.%d", i+1), body: body})
		switch w.Code {
		case 200:
			ok++
		case 429:
			if r := rec.Snapshot().Reason; r != "limit login-account key account" {
				t.Fatalf("reason = %q", r)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	}
	if ok != 3 {
		t.Fatalf("%d of 20 stuffing attempts from 20 IPs reached the upstream, want 3", ok)
	}
	// Duplicate keys: the gateway cannot know which one the upstream reads,
	// so the login is refused (400) and never reaches the upstream.
	hits := h.hits.Load()
	for _, body := range []string{`{"username":"victim","username":"fresh-1"}`, `{"username":"fresh-2","u\u0073ername":"victim"}`,
		`{"username":"fresh-3","Username":"victim"}`, `{"USERNAME":"victim","username":"fresh-4"}`} {
		w, rec := h.do(req{op: "login", ip: "198.51.100.200", body: body})
		if w.Code != 400 || rec.Snapshot().Reason != "login ambiguous account" {
			t.Fatalf("duplicate-key body %s: %d %q, want 400 ambiguous", body, w.Code, rec.Snapshot().Reason)
		}
	}
	if h.hits.Load() != hits {
		t.Fatalf("an ambiguous login reached the upstream")
	}
	// Another spelling of the key is the same account (case-insensitive
	// like Go's encoding/json): the victim's empty bucket refuses it.
	for _, body := range []string{`{"Username":"victim"}`, `{"USERNAME":"victim"}`, `{"u\u0053ername":"victim"}`, `{"uſername":"victim"}`} {
		if w, _ := h.do(req{op: "login", ip: "198.51.100.201", body: body}); w.Code != 429 {
			t.Fatalf("key spelling %s: %d, want 429", body, w.Code)
		}
	}
	// Form-encoded bodies are read too.
	w, _ := h.do(req{op: "login", ip: "198.51.100.202", ctype: "application/x-www-form-urlencoded", body: "username=victim&password=x"})
	if w.Code != 429 {
		t.Fatalf("form body: %d, want 429", w.Code)
	}
	// Another account is unaffected.
	if w, _ := h.do(req{op: "login", ip: "198.51.100.203", body: `{"username":"someone"}`}); w.Code != 200 {
		t.Fatalf("other account: %d", w.Code)
	}
}

// Password spraying: one address, many accounts.
func TestLoginPasswordSpraying(t *testing.T) {
	h := newHarness(t, loginOpts(ratelimit.MustPolicy("login-ip", "5/min", 5), ratelimit.MustPolicy("login-account", "3/min", 3), nil))
	ok := 0
	for i := range 50 {
		w, rec := h.do(req{op: "login", ip: "203.0.113.7", body: fmt.Sprintf(`{"username":"user%d","password":"Summer2026!"}`, i)})
		if w.Code == 200 {
			ok++
		} else if r := rec.Snapshot().Reason; w.Code != 429 || r != "limit login-ip key ip" {
			t.Fatalf("attempt %d: %d %q", i, w.Code, r)
		}
	}
	if ok != 5 {
		t.Fatalf("%d of 50 spraying attempts got through, want 5", ok)
	}
	// Same IPv6 /64 counts as the same client.
	h2 := newHarness(t, loginOpts(ratelimit.MustPolicy("login-ip", "2/min", 2), nil, nil))
	codes := []int{}
	for i := range 4 {
		w, _ := h2.do(req{op: "login", ip: fmt.Sprintf("2001:db8:1:2::%x", i+1), body: fmt.Sprintf(`{"username":"u%d"}`, i)})
		codes = append(codes, w.Code)
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Fatalf("IPv6 rotation inside one /64: %v, want [200 200 429 429]", codes)
	}
}

func TestLoginProgressiveLockout(t *testing.T) {
	lock := &ratelimit.LockoutPolicy{AfterFailures: 5, Base: time.Minute, Max: 10 * time.Minute}
	h := newHarness(t, loginOpts(nil, nil, lock))
	h.status = http.StatusUnauthorized
	attempt := func(ip string) (int, string) {
		w, _ := h.do(req{op: "login", ip: ip, body: `{"username":"victim","password":"x"}`})
		return w.Code, w.Header().Get("Retry-After")
	}
	for i := range 5 {
		if c, _ := attempt(fmt.Sprintf("198.51.100.%d", i+1)); c != 401 {
			t.Fatalf("failure %d: %d, want the upstream's 401", i, c)
		}
	}
	hits := h.hits.Load()
	if c, ra := attempt("198.51.100.99"); c != 429 || ra != "60" {
		t.Fatalf("locked: %d Retry-After %q, want 429 / 60", c, ra)
	}
	if h.hits.Load() != hits {
		t.Fatalf("a locked attempt reached the upstream")
	}
	// Other accounts are not locked.
	if w, _ := h.do(req{op: "login", body: `{"username":"other"}`}); w.Code != 401 {
		t.Fatalf("other account: %d", w.Code)
	}
	// After the lock, one more failure doubles it.
	h.clk.Add(time.Minute)
	if c, _ := attempt("198.51.100.1"); c != 401 {
		t.Fatalf("after lock: %d, want the upstream's 401", c)
	}
	if c, ra := attempt("198.51.100.1"); c != 429 || ra != "120" {
		t.Fatalf("second lock: %d Retry-After %q, want 429 / 120", c, ra)
	}
	// A success resets the count.
	h.clk.Add(2 * time.Minute)
	h.status = 200
	if c, _ := attempt("198.51.100.1"); c != 200 {
		t.Fatalf("success: %d", c)
	}
	h.status = 401
	for i := range 4 {
		if c, _ := attempt("198.51.100.1"); c != 401 {
			t.Fatalf("failure %d after reset: %d, want 401 (not locked yet)", i, c)
		}
	}
	if c, ra := attempt("198.51.100.1"); c != 401 || ra != "" {
		t.Fatalf("5th failure after reset: %d", c)
	}
	if c, ra := attempt("198.51.100.1"); c != 429 || ra != "60" {
		t.Fatalf("lock after reset: %d Retry-After %q, want base again (60)", c, ra)
	}
	// The lock is capped at Max.
	for range 10 {
		h.clk.Add(10 * time.Minute)
		attempt("198.51.100.1")
	}
	if c, ra := attempt("198.51.100.1"); c != 429 || ra != "600" {
		t.Fatalf("capped lock: %d Retry-After %q, want 600", c, ra)
	}
}

func TestLoginAccountExtraction(t *testing.T) {
	for _, tt := range []struct {
		name, field, ctype, a, b string
		same                     bool
	}{
		{"nested pointer", "/credentials/user", "", `{"credentials":{"user":"Bob"}}`, `{"credentials":{"user":"bob"},"x":1}`, true},
		{"array index", "/0/u", "", `[{"u":"bob"}]`, `[{"u":"BOB"}]`, true},
		{"escaped pointer", "/a~1b", "", `{"a/b":"bob"}`, `{"a/b":"bob","c":2}`, true},
		{"number account", "/username", "", `{"username":12345}`, `{"username":"12345"}`, true},
		{"different accounts", "/username", "", `{"username":"bob"}`, `{"username":"bobby"}`, false},
		{"json charset param", "/username", "application/json; charset=utf-8", `{"username":"bob"}`, `{"username":"bob"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := loginOpts(nil, ratelimit.MustPolicy("login-account", "1/h", 1), nil)
			o.Login.AccountField = tt.field
			h := newHarness(t, o)
			if w, _ := h.do(req{op: "login", body: tt.a, ctype: tt.ctype}); w.Code != 200 {
				t.Fatalf("first: %d", w.Code)
			}
			w, _ := h.do(req{op: "login", ip: "192.0.2.77", body: tt.b, ctype: tt.ctype})
			if got := w.Code == 429; got != tt.same {
				t.Fatalf("second request limited = %v, want same account %v", got, tt.same)
			}
		})
	}
}

func TestLoginOptionsRejected(t *testing.T) {
	for _, o := range []ratelimit.Options{
		{Login: &ratelimit.Login{}},
		{Login: &ratelimit.Login{Operations: []string{"login"}, PerAccount: ratelimit.MustPolicy("a", "1/s", 1)}},
		{Login: &ratelimit.Login{Operations: []string{"login"}, AccountField: "username", PerAccount: ratelimit.MustPolicy("a", "1/s", 1)}},
		{Login: &ratelimit.Login{Operations: []string{"login"}, AccountField: "/u", Lockout: &ratelimit.LockoutPolicy{AfterFailures: 0, Base: 1, Max: 2}}},
	} {
		if _, err := ratelimit.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o.Login)
		}
	}
}

// A login the limiter cannot attribute to one account is refused instead of
// being charged to a shared "no account" bucket (which an attacker could
// drain to lock every such login out, or dodge with a new spelling).
func TestLoginWithoutAccountRefused(t *testing.T) {
	o := loginOpts(nil, ratelimit.MustPolicy("login-account", "1/h", 1), nil)
	h := newHarness(t, o)
	for _, tt := range []struct{ name, ctype, body, reason string }{
		{"empty object", "", `{}`, "login without account"},
		{"not json", "", `not json at all`, "login without account"},
		{"empty value", "", `{"username":"  "}`, "login without account"},
		{"object value", "", `{"username":{"$ne":null}}`, "login without account"},
		{"array value", "", `{"username":["a","b"]}`, "login without account"},
		{"null", "", `{"username":null}`, "login without account"},
		{"bool", "", `{"username":true}`, "login without account"},
		{"trailing data", "", `{"username":"a"} {"username":"b"}`, "login without account"},
		{"empty body", "", ``, "login without account"},
		{"form without field", "application/x-www-form-urlencoded", `password=x`, "login without account"},
		{"form repeated", "application/x-www-form-urlencoded", `username=a&username=b`, "login ambiguous account"},
		{"form case variant", "application/x-www-form-urlencoded", `username=a&Username=b`, "login ambiguous account"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hits := h.hits.Load()
			w, rec := h.do(req{op: "login", body: tt.body, ctype: tt.ctype})
			if w.Code != 400 || rec.Snapshot().Reason != tt.reason || h.hits.Load() != hits {
				t.Fatalf("%s: %d %q (upstream hits +%d), want 400 %q", tt.body, w.Code, rec.Snapshot().Reason, h.hits.Load()-hits, tt.reason)
			}
		})
	}
	// Monitor mode lets them through (recorded, not refused).
	w, rec := h.do(req{op: "login", body: `{}`, mode: gatehouse.Monitor})
	if w.Code != 200 || len(rec.Snapshot().Monitored) == 0 {
		t.Fatalf("monitor: %d %v", w.Code, rec.Snapshot().Monitored)
	}
	// The same value twice is one account, not ambiguous.
	if w, _ := h.do(req{op: "login", ctype: "application/x-www-form-urlencoded", body: "username=bob&Username=BOB"}); w.Code != 200 {
		t.Fatalf("repeated same account: %d", w.Code)
	}
}

// With ExactAccountField the key must match exactly: another spelling is
// no account at all (refused), never a fresh bucket.
func TestLoginExactAccountField(t *testing.T) {
	o := loginOpts(nil, ratelimit.MustPolicy("login-account", "1/h", 1), nil)
	o.Login.ExactAccountField = true
	h := newHarness(t, o)
	if w, _ := h.do(req{op: "login", body: `{"username":"bob","Username":"x"}`}); w.Code != 200 {
		t.Fatalf("exact: %d", w.Code)
	}
	if w, _ := h.do(req{op: "login", body: `{"Username":"bob"}`}); w.Code != 400 {
		t.Fatalf("exact, other spelling only: %d, want 400", w.Code)
	}
	if w, _ := h.do(req{op: "login", body: `{"username":"BOB"}`}); w.Code != 429 {
		t.Fatalf("exact, same account: %d, want 429", w.Code)
	}
}
