package dynamic_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// styledVuln selects the blunders of the styled API; the zero value is a
// correct API.
type styledVuln struct {
	// BOLA: any caller reads and writes any user and book.
	BOLA bool
	// OwnRecord: writes on /users/{username} and /books/{book_title} answer
	// 200 but change the caller's own record whatever the path names (not
	// a vulnerability: the scan must stay silent).
	OwnRecord bool
	// Enum: failed logins answer 200 with "no such user" or "wrong
	// password"; the correct API answers 200 "invalid credentials" to both.
	Enum bool
	// EnumStatus: the correct variant answers 400 to both with the same
	// message; with Enum the messages differ under 400.
	EnumStatus int
	// EnumTiming: a known user's wrong password takes Slow longer (a hash
	// is computed only for known users); the body is the same.
	EnumTiming bool
	Slow       time.Duration
	// MassAssign: registration stores role and is_admin when sent; "me"
	// shows them and /admin/users opens to an admin. Registration answers
	// only a message either way.
	MassAssign bool
	// HideRole: "me" does not show role and is_admin (the effect shows only
	// in what the account may do).
	HideRole bool
	// OwnSecret: /me and /users/{username} show the caller's own API key
	// (its own secret: not a finding).
	OwnSecret bool
	// OwnHash: "me" shows the caller's own bcrypt password hash and salt
	// (a credential verifier: a finding even for its owner).
	OwnHash bool
	// OwnPII: "me" shows the caller's own phone number (personal data of
	// its own: not a finding).
	OwnPII bool
	// OthersSecret: the book list shows each owner's password hash.
	OthersSecret bool
	// ProfileRole: there is no "me" (404); GET /users/{username} shows
	// role and is_admin, so a registration's effect shows only there.
	ProfileRole bool
	// NestedSQLi: a book update concatenates its first tag
	// (meta.tags[0]) into SQL: an unbalanced quote answers a database
	// error.
	NestedSQLi bool
	// Auth200 answers a request without a valid token 200 instead of 401,
	// in the style named: "envelope" ({"success": false, "message":
	// "Please log in"}), "message" ({"message": "No token provided"}),
	// "jsend" ({"status": "fail", "data": {...}}), "error" ({"error":
	// "jwt malformed", "code": 40101}). Not a vulnerability.
	Auth200 string
	// OpenBook: GET /books/{book_title} forgot its auth middleware and
	// answers anyone (GH2001's finding).
	OpenBook bool
}

// authFailures are the 200 answers of styledVuln.Auth200.
var authFailures = map[string]any{
	"envelope": map[string]any{"success": false, "message": "Please log in"},
	"message":  map[string]any{"message": "No token provided"},
	"jsend":    map[string]any{"status": "fail", "data": map[string]any{"token": "a bearer token is needed here"}},
	"error":    map[string]any{"error": "jwt malformed", "code": 40101},
}

type styledUser struct {
	name, password, email, bio, role string
	admin                            bool
}

type styledBook struct{ title, summary, owner string }

// styled is an API in another style than the toy: Node/Python-like,
// usernames and book titles as identifiers, tokens without sub (claims
// username and uid), failed logins answered 200 with a message,
// registration and book creation answered with a message only.
type styled struct {
	v      styledVuln
	secret []byte
	mu     sync.Mutex
	users  map[string]*styledUser
	books  []*styledBook
}

func newStyled(v styledVuln) *styled {
	a := &styled{v: v, secret: []byte("0123456789abcdef0123456789abcdef"), users: map[string]*styledUser{}}
	for _, n := range []string{"alice", "bob"} {
		a.users[n] = &styledUser{name: n, password: n + "-pw", email: n + "@example.org", bio: "I am " + n, role: "reader"}
	}
	return a
}

func (a *styled) sign(u *styledUser) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"username": u.name, "uid": "u-" + u.name, "exp": 4102444800, "iat": 4102444800 - 900})
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

func (a *styled) caller(r *http.Request) *styledUser {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p := strings.Split(tok, ".")
	if !ok || len(p) != 3 {
		return nil
	}
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(p[0] + "." + p[1]))
	if b64.EncodeToString(m.Sum(nil)) != p[2] {
		return nil
	}
	var c struct{ Username string }
	cb, _ := b64.DecodeString(p[1])
	if json.Unmarshal(cb, &c) != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.users[c.Username]
}

func (a *styled) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *styled) userView(u *styledUser) map[string]any {
	v := map[string]any{"username": u.name, "email": u.email, "bio": u.bio}
	if a.v.ProfileRole {
		v["role"], v["is_admin"] = u.role, u.admin
	}
	if a.v.OwnSecret {
		v["api_key"] = "sk_live_" + u.name + "0123456789"
	}
	return v
}

func (a *styled) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	str := func(k string) string { s, _ := in[k].(string); return s }
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(seg) == 2 {
		seg[1], _ = url.PathUnescape(seg[1])
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/auth/login":
		a.mu.Lock()
		u := a.users[str("username")]
		a.mu.Unlock()
		status := 200
		if a.v.EnumStatus != 0 {
			status = a.v.EnumStatus
		}
		switch {
		case u != nil && u.password == str("password"):
			a.send(w, 200, map[string]any{"access_token": a.sign(u), "token_type": "bearer"})
		case u == nil && a.v.Enum:
			a.send(w, status, map[string]any{"message": "no such user"})
		case u != nil && a.v.Enum:
			a.send(w, status, map[string]any{"message": "wrong password"})
		default:
			if u != nil && a.v.EnumTiming {
				time.Sleep(a.v.Slow)
			}
			a.send(w, status, map[string]any{"message": "invalid credentials"})
		}
		return
	case r.Method == "POST" && r.URL.Path == "/auth/register":
		a.mu.Lock()
		if n := str("username"); n == "" || a.users[n] != nil {
			a.mu.Unlock()
			a.send(w, 400, map[string]any{"message": "username taken"})
			return
		}
		if n := str("username"); n != "" && a.users[n] == nil {
			u := &styledUser{name: n, password: str("password"), email: str("email"), role: "reader"}
			if a.v.MassAssign { // the body is bound onto the model
				if r, ok := in["role"].(string); ok {
					u.role = r
				}
				u.admin, _ = in["is_admin"].(bool)
			}
			a.users[n] = u
		}
		a.mu.Unlock()
		a.send(w, 200, map[string]any{"message": "registered"})
		return
	}
	me := a.caller(r)
	if me == nil && a.v.OpenBook && r.Method == "GET" && len(seg) == 2 && seg[0] == "books" {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, b := range a.books {
			if b.title == seg[1] {
				a.send(w, 200, map[string]any{"title": b.title, "summary": b.summary, "owner": b.owner})
				return
			}
		}
		a.send(w, 404, map[string]any{"message": "no such book"})
		return
	}
	if me == nil {
		if body, ok := authFailures[a.v.Auth200]; ok {
			a.send(w, 200, body)
			return
		}
		a.send(w, 401, map[string]any{"message": "missing or bad token"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/me" && a.v.ProfileRole:
		a.send(w, 404, map[string]any{"message": "not found"})
	case r.Method == "GET" && r.URL.Path == "/me":
		v := map[string]any{"username": me.name, "uid": "u-" + me.name, "email": me.email, "role": me.role, "is_admin": me.admin}
		if a.v.HideRole {
			delete(v, "role")
			delete(v, "is_admin")
		}
		if a.v.OwnSecret {
			v["api_key"] = "sk_live_" + me.name + "0123456789"
		}
		if a.v.OwnHash {
			v["password_hash"] = "$2b$10$" + strings.Repeat("N9qo8uLOickgx2ZMRZoMye", 3)[:53]
			v["salt"] = "c2FsdC0" + me.name
		}
		if a.v.OwnPII {
			v["phone"] = "+1-202-555-0143"
		}
		a.send(w, 200, v)
	case r.Method == "GET" && r.URL.Path == "/admin/users":
		if !me.admin && me.role != "admin" {
			a.send(w, 403, map[string]any{"message": "admins only"})
			return
		}
		a.send(w, 200, map[string]any{"count": len(a.users)})
	case len(seg) == 3 && seg[0] == "users" && seg[2] == "email" && r.Method == "PUT":
		name, _ := url.PathUnescape(seg[1])
		u := a.users[name]
		switch {
		case u == nil:
			a.send(w, 404, map[string]any{"message": "no such user"})
			return
		case a.v.OwnRecord:
			u = me // the path is ignored: the caller's own e-mail changes
		case u != me && !a.v.BOLA:
			a.send(w, 403, map[string]any{"message": "not yours"})
			return
		}
		u.email = str("email")
		a.send(w, 200, map[string]any{"message": "email updated"})
	case len(seg) == 2 && seg[0] == "users":
		u := a.users[seg[1]]
		if u == nil {
			a.send(w, 404, map[string]any{"message": "no such user"})
			return
		}
		switch {
		case r.Method == "PUT" && a.v.OwnRecord:
			u = me // the path is ignored: the caller's own record changes
		case u != me && !a.v.BOLA:
			a.send(w, 403, map[string]any{"message": "not yours"})
			return
		}
		if r.Method == "PUT" {
			if s := str("bio"); s != "" {
				u.bio = s
			}
			if s := str("email"); s != "" {
				u.email = s
			}
		}
		a.send(w, 200, a.userView(u))
	case r.URL.Path == "/books" && r.Method == "POST":
		if t := str("title"); t != "" {
			a.books = append(a.books, &styledBook{title: t, summary: str("summary"), owner: me.name})
		}
		a.send(w, 200, map[string]any{"message": "book added"})
	case r.URL.Path == "/books" && r.Method == "GET":
		out := []any{}
		for _, b := range a.books {
			// content_hash is the SHA-256 of the public summary: a digest,
			// not a password hash.
			sum := sha256.Sum256([]byte(b.summary))
			item := map[string]any{"title": b.title, "owner": b.owner, "content_hash": hex.EncodeToString(sum[:])}
			if a.v.OthersSecret {
				item["owner"] = map[string]any{"username": b.owner,
					"password_hash": "$2b$10$" + strings.Repeat(string(b.owner[0]), 53)}
			}
			out = append(out, item)
		}
		a.send(w, 200, out)
	case len(seg) == 2 && seg[0] == "books":
		var b *styledBook
		for _, x := range a.books {
			if x.title == seg[1] {
				b = x
			}
		}
		if b == nil {
			a.send(w, 404, map[string]any{"message": "no such book"})
			return
		}
		if r.Method == "DELETE" {
			victim := b
			switch {
			case a.v.OwnRecord:
				victim = nil // the path is ignored: the caller's own book goes
				for _, x := range a.books {
					if x.owner == me.name {
						victim = x
					}
				}
			case b.owner != me.name && !a.v.BOLA:
				a.send(w, 403, map[string]any{"message": "not yours"})
				return
			}
			for i, x := range a.books {
				if x == victim {
					a.books = append(a.books[:i], a.books[i+1:]...)
					break
				}
			}
			a.send(w, 200, map[string]any{"message": "deleted"})
			return
		}
		switch {
		case r.Method == "PUT" && a.v.OwnRecord:
			for _, x := range a.books {
				if x.owner == me.name {
					b = x // the caller's own book changes
				}
			}
		case b.owner != me.name && !a.v.BOLA:
			a.send(w, 403, map[string]any{"message": "not yours"})
			return
		}
		if r.Method == "PUT" {
			if meta, ok := in["meta"].(map[string]any); ok && a.v.NestedSQLi {
				if tags, ok := meta["tags"].([]any); ok && len(tags) > 0 {
					if tag, _ := tags[0].(string); strings.Count(tag, "'")%2 == 1 {
						a.send(w, 500, map[string]any{"error": "SQL logic error: unrecognized token: \"'" + tag + "\""})
						return
					}
				}
			}
			if s := str("summary"); s != "" {
				b.summary = s
			}
		}
		a.send(w, 200, map[string]any{"title": b.title, "summary": b.summary, "owner": b.owner})
	default:
		a.send(w, 404, map[string]any{"message": "not found"})
	}
}

func styledSpec(t *testing.T) *openapi.Spec {
	t.Helper()
	b, err := os.ReadFile("testdata/styled.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := openapi.LoadBytes(b, "styled.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scanStyled runs checks against a styled API as alice and bob and
// returns the result and the API (to inspect its state).
func scanStyled(t *testing.T, v styledVuln, cs ...scan.Check) (*scan.Result, *scan.Target) {
	t.Helper()
	srv := httptest.NewServer(newStyled(v))
	t.Cleanup(srv.Close)
	ids := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
	}
	tg, err := scan.NewTarget(styledSpec(t), srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 3000}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: cs})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Checks {
		if c.Error != "" {
			t.Errorf("check %s: %s", c.Meta.ID, c.Error)
		}
	}
	return res, tg
}

func findingKeys(fs []scan.Finding) map[string]bool {
	got := map[string]bool{}
	for _, f := range fs {
		got[f.Operation+"|"+f.Param] = true
	}
	return got
}

// expectStyled: the vulnerable styled API yields exactly the findings want
// (operation|param); every variant in silent yields none.
func expectStyled(t *testing.T, c scan.Check, v styledVuln, want []string, silent map[string]styledVuln) {
	t.Helper()
	t.Run("vulnerable", func(t *testing.T) {
		res, _ := scanStyled(t, v, c)
		got := findingKeys(res.Findings)
		for _, w := range want {
			if !got[w] {
				t.Errorf("finding %q missing; got %v", w, keys(got))
			}
		}
		if len(res.Findings) != len(want) {
			for _, f := range res.Findings {
				t.Logf("%s %s: %s", f.Operation, f.Param, f.Detail)
			}
			t.Errorf("got %d findings %v, want %d %v", len(res.Findings), keys(got), len(want), want)
		}
	})
	for name, sv := range silent {
		t.Run(name, func(t *testing.T) {
			res, _ := scanStyled(t, sv, c)
			for _, f := range res.Findings {
				t.Errorf("false positive: %s %s %s: %s", f.CheckID, f.Operation, f.Param, f.Detail)
			}
		})
	}
}

// Identities learn themselves from the login body, token claims without
// sub (username, uid) and the "me" answer; objects are owned through an
// owner field in a list, when the create answers only a message.
func TestIdentitiesKnowThemselves(t *testing.T) {
	_, tg := scanStyled(t, styledVuln{})
	alice := tg.Identity("alice")
	for _, v := range []string{"alice", "u-alice", "alice@example.org"} {
		if !alice.IsSelf(v) {
			t.Errorf("alice.IsSelf(%q) = false; self = %v", v, alice.Self())
		}
	}
	if alice.IsSelf("alice-pw") || alice.IsSelf("bob") {
		t.Errorf("alice's own values include a password or bob's name: %v", alice.Self())
	}
	book := tg.Operation("getBook")
	own := tg.OwnedParam(book, "book_title", alice)
	if len(own) != 1 || !strings.HasPrefix(own[0], "ghscan") {
		t.Errorf("OwnedParam(getBook, book_title, alice) = %v, want alice's one book", own)
	}
	for _, v := range tg.OwnedParam(book, "book_title", tg.Identity("bob")) {
		if len(own) > 0 && v == own[0] {
			t.Errorf("bob owns alice's book %q", v)
		}
	}
	user := tg.Operation("getUser")
	if got := tg.OwnedParam(user, "username", alice); len(got) == 0 || got[0] != "alice" {
		t.Errorf("OwnedParam(getUser, username, alice) = %v, want [alice ...]", got)
	}
	if p := tg.Prepare(user, alice); p.Path["username"] != "alice" {
		t.Errorf("Prepare(getUser, alice) path username = %q, want alice (not the spec example)", p.Path["username"])
	}
}

// BOLA on usernames and book titles, reads confirmed by content and writes
// by the owner's read-back; an API whose writes change the caller's own
// record (2xx, but not the named object) is not vulnerable.
func TestBOLAStyled(t *testing.T) {
	expectStyled(t, dynamic.BOLA{}, styledVuln{BOLA: true},
		[]string{"getUser|username", "updateUser|username", "updateEmail|username", "getBook|book_title", "updateBook|book_title", "deleteBook|book_title"},
		map[string]styledVuln{"correct": {}, "writes change the caller's own record": {OwnRecord: true}})
}

// An API that answers 200 to requests without a valid token, with a
// failure envelope, a message, a JSend fail or an error object, is not
// "answering without credentials" (GH2001 used to report every operation of
// it), and BOLA is still found behind it (the anonymous 200 made every
// object look public). The one operation that really forgot its auth is
// found in every style.
func TestAuthFailureAnswered200(t *testing.T) {
	for _, style := range []string{"envelope", "message", "jsend", "error"} {
		t.Run(style, func(t *testing.T) {
			expectStyled(t, dynamic.NoAuth{}, styledVuln{Auth200: style, OpenBook: true},
				[]string{"getBook|"}, map[string]styledVuln{"no open operation": {Auth200: style}})
			expectStyled(t, dynamic.BOLA{}, styledVuln{Auth200: style, BOLA: true},
				[]string{"getUser|username", "updateUser|username", "updateEmail|username", "getBook|book_title", "updateBook|book_title", "deleteBook|book_title"},
				map[string]styledVuln{"correct": {Auth200: style}})
		})
	}
}

// Mass assignment at registration, when the answer is only a message: the
// effect shows in the new account's "me" after logging in as it.
func TestMassAssignmentStyled(t *testing.T) {
	expectStyled(t, dynamic.MassAssignment{}, styledVuln{MassAssign: true},
		[]string{"register|is_admin"},
		map[string]styledVuln{"correct": {}})
	t.Run("effect only in the account's own profile", func(t *testing.T) {
		expectStyled(t, dynamic.MassAssignment{}, styledVuln{MassAssign: true, ProfileRole: true},
			[]string{"register|is_admin"},
			map[string]styledVuln{"correct": {ProfileRole: true}})
	})
	t.Run("effect only in a privileged operation", func(t *testing.T) {
		expectStyled(t, dynamic.MassAssignment{}, styledVuln{MassAssign: true, HideRole: true},
			[]string{"register|admin"},
			map[string]styledVuln{"correct": {HideRole: true}})
	})
}

// User enumeration whatever the status: both answers 200, both 400, or the
// same answer but a password hash computed only for existing accounts.
func TestUserEnumerationStyled(t *testing.T) {
	expectStyled(t, dynamic.UserEnumeration{}, styledVuln{Enum: true}, []string{"login|"},
		map[string]styledVuln{"correct": {}, "correct 400": {EnumStatus: 400}})
	t.Run("400", func(t *testing.T) {
		expectStyled(t, dynamic.UserEnumeration{}, styledVuln{Enum: true, EnumStatus: 400}, []string{"login|"}, nil)
	})
	t.Run("timing", func(t *testing.T) {
		// Timing noise on a loaded machine can hide the delay (a miss,
		// never a false positive): up to three attempts.
		var fs []scan.Finding
		for i := 0; i < 3; i++ {
			res, _ := scanStyled(t, styledVuln{EnumTiming: true, Slow: 4 * toyUnit}, dynamic.UserEnumeration{})
			if fs = res.Findings; len(fs) == 1 {
				break
			}
		}
		if len(fs) != 1 || fs[0].Key != "timing" {
			t.Fatalf("timing enumeration: findings %+v, want one with key timing", fs)
		}
		t.Log(fs[0].Detail)
	})
}

// Sensitive data judged with ownership: a caller reading its own API key
// is no finding, reading another user's password hash is; the SHA-256 of a
// public summary in a content_hash field is not a password hash.
func TestExposureStyled(t *testing.T) {
	expectStyled(t, dynamic.Exposure{}, styledVuln{OthersSecret: true, OwnSecret: true},
		[]string{"listBooks|password_hash"},
		map[string]styledVuln{"correct": {}, "own secret only": {OwnSecret: true}})
}

// A credential verifier (password hash, salt) returned even to its own
// owner is a medium finding: no client needs it. Its own email, phone and
// API key shown to the owner stay silent.
func TestExposureOwnVerifier(t *testing.T) {
	expectStyled(t, dynamic.Exposure{}, styledVuln{OwnHash: true, OwnPII: true},
		[]string{"me|password_hash", "me|salt"},
		map[string]styledVuln{"own personal data": {OwnPII: true, OwnSecret: true}})
	res, _ := scanStyled(t, styledVuln{OwnHash: true}, dynamic.Exposure{})
	for _, f := range res.Findings {
		if f.Severity != scan.Medium || !strings.Contains(f.Detail, "own") {
			t.Errorf("%s %s: severity %s, detail %q; want medium, naming the owner", f.Operation, f.Param, f.Severity, f.Detail)
		}
	}
}

// Injection where the data goes in: a string nested in an array of an
// object of a PUT body, on a book the scan created.
func TestSQLiNestedBodyStyled(t *testing.T) {
	expectStyled(t, dynamic.SQLiError{}, styledVuln{NestedSQLi: true}, []string{"updateBook|body meta.tags[0]"},
		map[string]styledVuln{"correct": {}})
}

// BOLA on DELETE touches only objects the scan created, and leaves none of
// them behind when the API refuses (correct) or the DELETE hits the
// caller's own object instead (2xx, not vulnerable: silent).
func TestBOLADeleteLeavesNothing(t *testing.T) {
	for name, v := range map[string]styledVuln{"correct": {}, "own record": {OwnRecord: true}, "vulnerable": {BOLA: true}} {
		t.Run(name, func(t *testing.T) {
			api := newStyled(v)
			api.books = append(api.books, &styledBook{title: "seeded", summary: "not the scan's", owner: "bob"})
			srv := httptest.NewServer(api)
			defer srv.Close()
			ids := []*scan.Identity{
				scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
				scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
			}
			tg, err := scan.NewTarget(styledSpec(t), srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 3000}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.BOLA{}}})
			if err != nil {
				t.Fatal(err)
			}
			deleted := false
			for _, f := range res.Findings {
				deleted = deleted || f.Operation == "deleteBook"
			}
			if deleted != v.BOLA {
				t.Errorf("deleteBook finding = %v, want %v", deleted, v.BOLA)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			seeded := false
			for _, b := range api.books {
				if strings.HasPrefix(b.title, "ghscan-del-") && !v.OwnRecord {
					t.Errorf("the scan left its object %q behind", b.title)
				}
				seeded = seeded || b.title == "seeded"
			}
			if !seeded && !v.OwnRecord {
				t.Error("the scan deleted an object it did not create")
			}
		})
	}
}
