package dynamic_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// pwMode is how the credential API's PUT /users/{username}/password
// behaves.
type pwMode int

const (
	pwAnyone        pwMode = iota // any logged-in caller sets anyone's password
	pwCallerCurrent               // checks currentPassword against the CALLER's, then sets the named account's
	pwOwnOnly                     // correct: 403 unless the path names the caller
	pwNamedCurrent                // correct: currentPassword must be the named account's own
	pwOwnRecord                   // 200, but changes the caller's own password whatever the path says
	pwFakeOK                      // 200 "Password changed." and changes nothing
	pwMangled                     // sets the named account's password to a mangled form of the new one
	pwFakeOKLockout               // as pwFakeOK, and an account locks after 2 failed logins
)

// pwAPI is a small Flask-style API: usernames in paths, a failed login
// answered 200 with a message, a registration that answers only a message.
type pwAPI struct {
	mode      pwMode
	noReg     bool   // registration refused (400)
	field     string // the new password's field ("" = newPassword)
	mu        sync.Mutex
	passwords map[string]string // username → password
	tokens    map[string]string // token → username
	changes   map[string]int    // PUT …/password calls per path username
	failures  map[string]int    // failed logins per username
}

func newPwAPI(mode pwMode) *pwAPI {
	return &pwAPI{mode: mode, passwords: map[string]string{"alice": "alice-pw", "bob": "bob-pw"},
		tokens: map[string]string{}, changes: map[string]int{}, failures: map[string]int{}}
}

func (a *pwAPI) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *pwAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]string
	_ = json.NewDecoder(r.Body).Decode(&in)
	a.mu.Lock()
	defer a.mu.Unlock()
	caller := a.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	switch {
	case r.Method == "POST" && r.URL.Path == "/login":
		if a.mode == pwFakeOKLockout && a.failures[in["username"]] >= 2 {
			a.send(w, 200, map[string]string{"message": "account locked, contact support"})
			return
		}
		if pw, ok := a.passwords[in["username"]]; ok && pw == in["password"] && pw != "" {
			var b [12]byte
			_, _ = rand.Read(b[:])
			tok := hex.EncodeToString(b[:])
			a.tokens[tok] = in["username"]
			a.send(w, 200, map[string]string{"message": "ok", "token": tok})
			return
		}
		a.failures[in["username"]]++
		a.send(w, 200, map[string]string{"message": "invalid credentials"})
	case r.Method == "POST" && r.URL.Path == "/register":
		if a.noReg {
			a.send(w, 400, map[string]string{"message": "registration is closed"})
			return
		}
		if _, ok := a.passwords[in["username"]]; ok || in["username"] == "" || in["password"] == "" {
			a.send(w, 400, map[string]string{"message": "user exists"})
			return
		}
		a.passwords[in["username"]] = in["password"]
		a.send(w, 200, map[string]string{"message": "registered, please log in"})
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/users/") && strings.HasSuffix(r.URL.Path, "/password"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/users/"), "/password")
		a.changes[name]++
		if a.field != "" {
			in["newPassword"] = in[a.field]
		}
		if in["newPassword"] == "" {
			a.send(w, 400, map[string]string{"message": "newPassword is required"})
			return
		}
		if caller == "" {
			a.send(w, 401, map[string]string{"message": "login required"})
			return
		}
		if _, ok := a.passwords[name]; !ok {
			a.send(w, 404, map[string]string{"message": "no such user"})
			return
		}
		switch a.mode {
		case pwAnyone:
			a.passwords[name] = in["newPassword"]
		case pwCallerCurrent:
			if in["currentPassword"] != a.passwords[caller] {
				a.send(w, 403, map[string]string{"message": "wrong current password"})
				return
			}
			a.passwords[name] = in["newPassword"]
		case pwOwnOnly:
			if name != caller {
				a.send(w, 403, map[string]string{"message": "not your account"})
				return
			}
			a.passwords[name] = in["newPassword"]
		case pwNamedCurrent:
			if in["currentPassword"] != a.passwords[name] {
				a.send(w, 403, map[string]string{"message": "wrong current password"})
				return
			}
			a.passwords[name] = in["newPassword"]
		case pwOwnRecord:
			a.passwords[caller] = in["newPassword"]
		case pwMangled:
			a.passwords[name] = in["newPassword"] + "\x00mangled"
		case pwFakeOK, pwFakeOKLockout:
		}
		a.send(w, 200, map[string]string{"message": "Password changed."})
	default:
		a.send(w, 404, map[string]string{"message": "not found"})
	}
}

const pwSpec = `openapi: 3.0.3
info: { title: credentials, version: "1" }
components:
  securitySchemes: { bearer: { type: http, scheme: bearer } }
paths:
  /login:
    post:
      operationId: login
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /register:
    post:
      operationId: register
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users/{username}/password:
    put:
      operationId: changePassword
      security: [ { bearer: [] } ]
      parameters: [ { name: username, in: path, required: true, schema: { type: string }, example: name1 } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { currentPassword: { type: string }, newPassword: { type: string } } } } } }
      responses: { "200": { description: ok } }
`

// scanPw scans a credential API as alice and bob with GH2010 only.
func scanPw(t *testing.T, api *pwAPI, spec string, safe bool) *scan.Result {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	s, err := openapi.LoadBytes([]byte(spec), "cred.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
	}
	tg, err := scan.NewTarget(s, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 500, Safe: safe}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.BOLA{}}, Safe: safe})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Checks[0].Error; e != "" {
		t.Errorf("GH2010: %s", e)
	}
	// The scan's own identities are never touched: their passwords are
	// intact and no password request named them.
	api.mu.Lock()
	defer api.mu.Unlock()
	for _, n := range []string{"alice", "bob"} {
		if api.passwords[n] != n+"-pw" || api.changes[n] != 0 {
			t.Errorf("%s's password is now %q after %d change requests naming her", n, api.passwords[n], api.changes[n])
		}
	}
	return res
}

func pwCoverage(res *scan.Result, op string) scan.OpCoverage {
	for _, oc := range res.Checks[0].Coverage {
		if oc.Operation == op {
			return oc
		}
	}
	return scan.OpCoverage{}
}

// BOLA on a password change is found by its effect on throwaway accounts
// the scan registered: the victim then logs in with the attacker's
// password. An API that checks the current password against the caller's
// own is as vulnerable (the attacker knows its own).
func TestBOLACredentialVulnerable(t *testing.T) {
	for name, mode := range map[string]pwMode{"anyone": pwAnyone, "current password of the caller": pwCallerCurrent} {
		t.Run(name, func(t *testing.T) {
			api := newPwAPI(mode)
			res := scanPw(t, api, pwSpec, false)
			if len(res.Findings) != 1 {
				t.Fatalf("findings = %+v, want 1", res.Findings)
			}
			f := res.Findings[0]
			if f.CheckID != "GH2010" || f.Operation != "changePassword" || f.Param != "username" || f.Severity != scan.Critical {
				t.Errorf("finding = %s %s %s %s", f.CheckID, f.Operation, f.Param, f.Severity)
			}
			if !strings.Contains(f.Detail, "logs in with the password the attacker chose") || len(f.Evidence) != 3 {
				t.Errorf("detail %q with %d evidence", f.Detail, len(f.Evidence))
			}
			if !strings.HasPrefix(f.Curl, "curl -i -X PUT") || !strings.Contains(f.Curl, "$TOKEN_GHSCAN") || !strings.Contains(f.Curl, "/users/ghscan") {
				t.Errorf("curl = %s", f.Curl)
			}
			if f.Fix != "authz: { rules: { changePassword: { owner: { param: username, claim: sub } } } }" {
				t.Errorf("fix = %s", f.Fix)
			}
			// Only throwaway accounts were touched: the victim's name is in the path.
			api.mu.Lock()
			n := 0
			for u, c := range api.changes {
				if !strings.HasPrefix(u, "ghscan") {
					t.Errorf("%d password requests for %s", c, u)
				}
				n += c
			}
			api.mu.Unlock()
			if n != 1 {
				t.Errorf("%d password change requests, want 1", n)
			}
			// 2 registrations, 2 logins, the control login, the change,
			// the victim's login with the attacker's password.
			if r := res.Checks[0].Requests; r != 7 {
				t.Errorf("GH2010 sent %d requests, want 7", r)
			}
		})
	}
}

// An API that breaks the victim's password without setting the one sent:
// V's own password now fails like a wrong one, and the attacker's own
// account did not change: found, by the second proof.
func TestBOLACredentialVictimLockedOut(t *testing.T) {
	api := newPwAPI(pwMangled)
	res := scanPw(t, api, pwSpec, false)
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Detail, "the victim's own password no longer logs in") {
		t.Fatalf("findings = %+v, want the takeover by V's failing password", res.Findings)
	}
	if n := len(res.Findings[0].Evidence); n != 3 {
		t.Errorf("%d evidence items, want 3", n)
	}
	// 7 as above, + V's own password, + X's login with the new one.
	if r := res.Checks[0].Requests; r != 9 {
		t.Errorf("GH2010 sent %d requests, want 9", r)
	}
}

// A password field the scanner cannot tell by its name is found through
// the gateway's x-gatehouse-credential mark, which names it.
func TestBOLACredentialMarkedField(t *testing.T) {
	spec := strings.Replace(pwSpec, "properties: { currentPassword: { type: string }, newPassword: { type: string } }", "properties: { secret: { type: string } }", 1)
	spec = strings.Replace(spec, "      operationId: changePassword\n", "      operationId: changePassword\n      x-gatehouse-credential: { field: secret }\n", 1)
	if spec == pwSpec {
		t.Fatal("spec not rewritten")
	}
	api := newPwAPI(pwAnyone)
	api.field = "secret"
	res := scanPw(t, api, spec, false)
	if len(res.Findings) != 1 || res.Findings[0].Operation != "changePassword" {
		t.Fatalf("findings = %+v, want the takeover through the marked field", res.Findings)
	}
}

// Silent where the change is refused, answered 200 without any effect, or
// applied to the caller's own account; the operation is still tested.
func TestBOLACredentialSilent(t *testing.T) {
	for name, tc := range map[string]struct {
		mode     pwMode
		requests int // refused: 7 as above; 2xx: + the victim's own password, which still logs in
	}{"own account only": {pwOwnOnly, 7}, "current password of the named account": {pwNamedCurrent, 7},
		"changes the caller's own record": {pwOwnRecord, 8}, "200 without effect": {pwFakeOK, 8},
		// V's own password fails after the two failed logins, but as a
		// lockout, not as a wrong password: no verdict
		"200 without effect, lockout after 2 failures": {pwFakeOKLockout, 8}} {
		t.Run(name, func(t *testing.T) {
			mode := tc.mode
			api := newPwAPI(mode)
			res := scanPw(t, api, pwSpec, false)
			for _, f := range res.Findings {
				t.Errorf("false positive: %s %s %s: %s", f.CheckID, f.Operation, f.Param, f.Detail)
			}
			if r := res.Checks[0].Requests; r != tc.requests {
				t.Errorf("GH2010 sent %d requests, want %d", r, tc.requests)
			}
			if oc := pwCoverage(res, "changePassword"); oc.Status != scan.CoverTested || oc.Requests != 1 {
				t.Errorf("changePassword coverage = %+v, want tested with 1 request", oc)
			}
			if mode == pwOwnRecord {
				// The attacker's own throwaway password changed: the probe
				// really was answered by an own-record API.
				api.mu.Lock()
				changed := 0
				for u, pw := range api.passwords {
					if strings.HasPrefix(u, "ghscan") && strings.HasSuffix(pw, "-New-Pw7") {
						changed++
					}
				}
				api.mu.Unlock()
				if changed != 1 {
					t.Errorf("%d throwaway accounts carry the new password, want the attacker's", changed)
				}
			}
		})
	}
}

// Without a way to register throwaway accounts, or in safe mode, the
// operation is never called and its coverage says why.
func TestBOLACredentialSkipped(t *testing.T) {
	noRegSpec := strings.Replace(pwSpec, "  /register:\n    post:\n      operationId: register\n", "  /signup-closed:\n    get:\n      operationId: closed\n", 1)
	noRegSpec = strings.Replace(noRegSpec, "      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }\n      responses: { \"200\": { description: ok } }\n  /users", "      responses: { \"200\": { description: ok } }\n  /users", 1)
	refused := newPwAPI(pwAnyone)
	refused.noReg = true
	for _, tc := range []struct {
		name, spec string
		api        *pwAPI
		safe       bool
		reason     string
	}{
		{"no registration operation", noRegSpec, newPwAPI(pwAnyone), false, "no registration operation"},
		{"registration refused", pwSpec, refused, false, "registering a throwaway account through register was refused (400)"},
		{"safe mode", pwSpec, newPwAPI(pwAnyone), true, "safe mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := scanPw(t, tc.api, tc.spec, tc.safe)
			if len(res.Findings) != 0 {
				t.Errorf("findings = %+v", res.Findings)
			}
			oc := pwCoverage(res, "changePassword")
			if oc.Status != scan.CoverSkipped || !strings.Contains(oc.Reason, tc.reason) || oc.Requests != 0 {
				t.Errorf("changePassword coverage = %+v, want skipped: %s", oc, tc.reason)
			}
			if line := scan.CoverageLine(res.Checks[0]); !strings.Contains(line, "skipped") {
				t.Errorf("coverage line does not say skipped: %s", line)
			}
			tc.api.mu.Lock()
			defer tc.api.mu.Unlock()
			for u, c := range tc.api.changes {
				t.Errorf("%d password change requests for %s", c, u)
			}
			for u, pw := range tc.api.passwords {
				if strings.HasSuffix(pw, "-scan-Pw9") { // freshAccount's strong password (the crawl's registrations have others)
					t.Errorf("throwaway account %s registered although the probe could not run", u)
				}
			}
		})
	}
}
