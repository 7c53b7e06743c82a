package dynamic_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// vuln selects the blunders a toy API commits; the zero value is a correct API.
type vuln struct {
	NoAuth, AnyToken, AlgNone, NoSigCheck, WeakSecret, NoExp, NoRevoke, NoExpCheck bool
	BOLA, BFLA, Expose, Undeclared, MassAssign, NoRateLimit, LeakErrors            bool
	SQLi, NoHeaders, CORS, Version, Trace, UserEnum, NoSQL, SQLiTime, CmdTime      bool
	NoReadLimit, NestedBOLA                                                        bool
	// Growing: other clients keep registering users while the scan runs:
	// each search adds five rows before it answers (the demo's user list
	// grows as other checks register accounts).
	Growing bool
}

type toyUser struct {
	ID                        int64
	Username, Password, Email string
	Role                      string
}

// toy is a small API with switchable blunders, over real HTTP and (for
// search) a real SQL database.
type toy struct {
	v       vuln
	secret  []byte
	db      *sql.DB
	mu      sync.Mutex
	users   map[int64]*toyUser
	notes   map[int64][2]any // id → owner, text
	nextID  int64
	revoked map[string]bool
	fails   int
	orgs    map[int64]int64    // org id → creator
	projs   map[int64][2]int64 // project id → org, creator
}

func newToy(t *testing.T, v vuln) *toy {
	t.Helper()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE users (id INTEGER, username TEXT)`); err != nil {
		t.Fatal(err)
	}
	a := &toy{v: v, db: db, users: map[int64]*toyUser{}, notes: map[int64][2]any{}, revoked: map[string]bool{}, nextID: 100,
		orgs: map[int64]int64{}, projs: map[int64][2]int64{}}
	a.secret = []byte("secret")
	if !v.WeakSecret {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	for i, n := range []string{"admin", "alice", "bob"} {
		role := "user"
		if n == "admin" {
			role = "admin"
		}
		u := &toyUser{ID: int64(i + 1), Username: n, Password: n + "-pw", Email: n + "@example.com", Role: role}
		a.users[u.ID] = u
		if _, err := db.Exec(`INSERT INTO users VALUES (?, ?)`, u.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

var b64 = base64.RawURLEncoding

func (a *toy) token(u *toyUser) string {
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	c := map[string]any{"sub": strconv.FormatInt(u.ID, 10), "role": u.Role, "jti": hex.EncodeToString(jti), "iat": 1700000000}
	if !a.v.NoExp {
		c["exp"] = 4102444800 // 2100: far, but iat makes the lifetime obvious; see below
		c["iat"] = 4102444800 - 900
	}
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	body, _ := json.Marshal(c)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(body)
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

func (a *toy) auth(r *http.Request) (*toyUser, map[string]any) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, nil
	}
	if a.v.AnyToken {
		return a.users[2], map[string]any{}
	}
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		return nil, nil
	}
	var hdr map[string]any
	hb, _ := b64.DecodeString(p[0])
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, nil
	}
	var claims map[string]any
	cb, _ := b64.DecodeString(p[1])
	if json.Unmarshal(cb, &claims) != nil {
		return nil, nil
	}
	switch {
	case hdr["alg"] == "none" && a.v.AlgNone:
	case a.v.NoSigCheck:
	default:
		if hdr["alg"] != "HS256" {
			return nil, nil
		}
		m := hmac.New(sha256.New, a.secret)
		m.Write([]byte(p[0] + "." + p[1]))
		sig, _ := b64.DecodeString(p[2])
		if !hmac.Equal(sig, m.Sum(nil)) {
			return nil, nil
		}
	}
	if exp, ok := claims["exp"].(float64); (!ok || exp < 1800000000) && !a.v.NoExpCheck && !a.v.NoExp {
		return nil, nil // expired (the toy's clock says 2027)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if jti, _ := claims["jti"].(string); a.revoked[jti] && !a.v.NoRevoke {
		return nil, nil
	}
	id, _ := strconv.ParseInt(fmt.Sprint(claims["sub"]), 10, 64)
	return a.users[id], claims
}

func (a *toy) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *toy) fail(w http.ResponseWriter, status int, err error) {
	if a.v.LeakErrors && err != nil {
		w.WriteHeader(500)
		fmt.Fprintf(w, "panic: %v\n\ngoroutine 1 [running]:\nmain.handler()\n\t/srv/app/main.go:42", err)
		return
	}
	a.json(w, status, map[string]any{"title": http.StatusText(status), "status": status})
}

func (a *toy) userView(u *toyUser) map[string]any {
	m := map[string]any{"id": u.ID, "username": u.Username, "email": u.Email, "role": u.Role}
	if a.v.Expose {
		s := sha256.Sum256([]byte(u.Password))
		m["password_hash"] = hex.EncodeToString(s[:16])
	}
	if a.v.Undeclared {
		m["internal_notes"] = "vip"
	}
	return m
}

func (a *toy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if !a.v.NoHeaders {
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
	}
	if a.v.Version {
		h.Set("Server", "toy/1.2.3")
		h.Set("X-Powered-By", "Go")
	}
	if o := r.Header.Get("Origin"); o != "" && a.v.CORS {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method == http.MethodGet && !a.v.NoReadLimit {
		// The correct toy advertises a per-client read limit on every read
		// (IETF RateLimit fields, as the gatehouse gateway sends them).
		h.Set("RateLimit-Policy", `"reads";q=100;w=1`)
		h.Set("RateLimit", `"reads";r=99;t=1`)
	}
	if r.Method == http.MethodTrace {
		if a.v.Trace {
			h.Set("Content-Type", "message/http")
			_ = r.Write(w)
			return
		}
		a.fail(w, 405, nil)
		return
	}
	u, claims := a.auth(r)
	path := r.URL.Path
	seg := strings.Split(strings.Trim(path, "/"), "/")
	need := func() bool {
		if u == nil {
			a.fail(w, 401, nil)
			return false
		}
		return true
	}
	switch {
	case r.Method == "GET" && path == "/health":
		a.json(w, 200, map[string]any{"status": "ok"})
	case r.Method == "POST" && path == "/login":
		var in struct{ Username, Password string }
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &in)
		if a.v.NoSQL { // the password is matched like a Mongo filter
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			if op, ok := m["password"].(map[string]any); ok && (hasKey(op, "$ne") || hasKey(op, "$gt")) {
				for _, x := range a.users {
					if x.Username == in.Username {
						a.json(w, 200, map[string]any{"token": a.token(x)})
						return
					}
				}
			}
		}
		a.mu.Lock()
		limited := !a.v.NoRateLimit && a.fails >= 5
		a.mu.Unlock()
		if limited {
			h.Set("Retry-After", "60")
			a.fail(w, 429, nil)
			return
		}
		for _, x := range a.users {
			if x.Username == in.Username && x.Password == in.Password {
				a.json(w, 200, map[string]any{"token": a.token(x)})
				return
			}
		}
		a.mu.Lock()
		a.fails++
		a.mu.Unlock()
		if a.v.UserEnum {
			why := "unknown user"
			for _, x := range a.users {
				if x.Username == in.Username {
					why = "invalid password"
				}
			}
			a.json(w, 401, map[string]any{"error": why})
			return
		}
		a.fail(w, 401, nil)
	case r.Method == "POST" && path == "/logout":
		if need() {
			a.mu.Lock()
			a.revoked[fmt.Sprint(claims["jti"])] = true
			a.mu.Unlock()
			w.WriteHeader(204)
		}
	case r.Method == "POST" && path == "/register":
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		a.mu.Lock()
		a.nextID++
		nu := &toyUser{ID: a.nextID, Username: fmt.Sprint(in["username"]), Password: fmt.Sprint(in["password"]), Role: "user"}
		if role, ok := in["role"].(string); ok && a.v.MassAssign {
			nu.Role = role
		}
		a.users[nu.ID] = nu
		a.mu.Unlock()
		a.json(w, 201, a.userView(nu))
	case r.Method == "GET" && path == "/users":
		if !need() {
			return
		}
		a.mu.Lock()
		var out []any
		for id := int64(1); id <= 3; id++ {
			out = append(out, a.userView(a.users[id]))
		}
		a.mu.Unlock()
		a.json(w, 200, out)
	case r.Method == "GET" && path == "/users/search":
		if !need() {
			return
		}
		q := r.URL.Query().Get("q")
		if m := sqlSleepRe.FindStringSubmatch(q); m != nil && a.v.SQLiTime {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(time.Duration(n) * toyUnit) // what the database's SLEEP(n) would do
		}
		if m := shellSleepRe.FindStringSubmatch(q); m != nil && a.v.CmdTime {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(time.Duration(n) * toyUnit) // what the shell's sleep n would do
		}
		if a.v.NoSQL { // q[$ne]=v is a Mongo-style operator; q[other]=v matches nothing
			for k, vs := range r.URL.Query() {
				if op, ok := strings.CutPrefix(k, "q["); ok {
					out := []any{}
					for id := int64(1); id <= 3; id++ {
						if op == "$ne]" && a.users[id].Username != vs[0] {
							out = append(out, map[string]any{"id": id, "username": a.users[id].Username})
						}
					}
					a.json(w, 200, out)
					return
				}
			}
		}
		if a.v.Growing {
			a.mu.Lock()
			for range 5 {
				a.nextID++
				_, _ = a.db.Exec(`INSERT INTO users VALUES (?, ?)`, 1000+a.nextID, fmt.Sprintf("zz-registered-%d", a.nextID))
			}
			a.mu.Unlock()
		}
		var rows *sql.Rows
		var err error
		if a.v.SQLi {
			rows, err = a.db.Query("SELECT id, username FROM users WHERE username LIKE '%" + q + "%'")
		} else {
			rows, err = a.db.Query("SELECT id, username FROM users WHERE username LIKE ?", "%"+q+"%")
		}
		if err != nil {
			if a.v.SQLi {
				w.WriteHeader(500)
				fmt.Fprintf(w, "query failed: %v", err)
				return
			}
			a.fail(w, 500, nil)
			return
		}
		defer rows.Close()
		out := []any{}
		for rows.Next() {
			var id int64
			var n string
			_ = rows.Scan(&id, &n)
			out = append(out, map[string]any{"id": id, "username": n})
		}
		a.json(w, 200, out)
	case len(seg) == 2 && seg[0] == "users" && (r.Method == "GET" || r.Method == "PATCH"):
		if u == nil && !(a.v.NoAuth && r.Method == "GET") {
			a.fail(w, 401, nil)
			return
		}
		id, err := strconv.ParseInt(seg[1], 10, 64)
		if err != nil {
			a.fail(w, 400, fmt.Errorf("strconv.ParseInt: parsing %q: invalid syntax", seg[1]))
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		target := a.users[id]
		if target == nil {
			a.fail(w, 404, nil)
			return
		}
		if !a.v.BOLA && u != nil && u.ID != id && u.Role != "admin" && !(a.v.NoAuth && r.Method == "GET") {
			a.fail(w, 403, nil)
			return
		}
		if r.Method == "PATCH" {
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			if e, ok := in["email"].(string); ok {
				target.Email = e
			}
			if role, ok := in["role"].(string); ok && a.v.MassAssign {
				target.Role = role
			}
		}
		a.json(w, 200, a.userView(target))
	case r.Method == "POST" && path == "/notes":
		if !need() {
			return
		}
		var in struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		a.mu.Lock()
		a.nextID++
		id := a.nextID
		a.notes[id] = [2]any{u.ID, in.Text}
		a.mu.Unlock()
		a.json(w, 201, map[string]any{"id": id, "owner_id": u.ID, "text": in.Text})
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "notes":
		if !need() {
			return
		}
		id, _ := strconv.ParseInt(seg[1], 10, 64)
		a.mu.Lock()
		n, ok := a.notes[id]
		a.mu.Unlock()
		if !ok || (!a.v.BOLA && n[0] != u.ID) {
			a.fail(w, 404, nil)
			return
		}
		a.json(w, 200, map[string]any{"id": id, "owner_id": n[0], "text": n[1]})
	case r.Method == "POST" && path == "/users/find":
		// A search by JSON body: the same blunders as GET /users/search, in a
		// body field (SQL sleep, shell sleep, a Mongo-style operator).
		if !need() {
			return
		}
		var in map[string]any
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			a.fail(w, 400, nil)
			return
		}
		if op, ok := in["name"].(map[string]any); ok && a.v.NoSQL {
			out := []any{}
			for id := int64(1); id <= 3; id++ {
				if ne, ok := op["$ne"]; ok && a.users[id].Username != ne {
					out = append(out, map[string]any{"id": id, "username": a.users[id].Username})
				}
			}
			a.json(w, 200, out)
			return
		}
		name, ok := in["name"].(string)
		if l, isNum := in["limit"].(float64); !ok || in["limit"] != nil && (!isNum || l < 1 || l > 10) {
			a.fail(w, 400, nil)
			return
		}
		if m := sqlSleepRe.FindStringSubmatch(name); m != nil && a.v.SQLiTime {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(time.Duration(n) * toyUnit)
		}
		if m := shellSleepRe.FindStringSubmatch(name); m != nil && a.v.CmdTime {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(time.Duration(n) * toyUnit)
		}
		out := []any{}
		a.mu.Lock()
		for id := int64(1); id <= 3; id++ {
			if strings.Contains(a.users[id].Username, name) {
				out = append(out, map[string]any{"id": id, "username": a.users[id].Username})
			}
		}
		a.mu.Unlock()
		a.json(w, 200, out)
	case r.Method == "POST" && path == "/orgs":
		// An org comes with a default project; its id is only in the list.
		if !need() {
			return
		}
		a.mu.Lock()
		a.nextID++
		org := a.nextID
		a.orgs[org] = u.ID
		a.nextID++
		a.projs[a.nextID] = [2]int64{org, u.ID}
		a.mu.Unlock()
		a.json(w, 201, map[string]any{"id": org})
	case r.Method == "GET" && len(seg) >= 3 && seg[0] == "orgs" && seg[2] == "projects":
		// The project must belong to the org (checked); that the caller
		// belongs to the org is checked unless NestedBOLA.
		if !need() {
			return
		}
		org, err := strconv.ParseInt(seg[1], 10, 64)
		a.mu.Lock()
		defer a.mu.Unlock()
		creator, ok := a.orgs[org]
		if err != nil || !ok || (!a.v.NestedBOLA && creator != u.ID) {
			a.fail(w, 404, nil)
			return
		}
		view := func(id int64) map[string]any {
			return map[string]any{"id": id, "name": fmt.Sprintf("default project of %s", a.users[a.projs[id][1]].Username)}
		}
		if len(seg) == 3 {
			out := []any{}
			for id, p := range a.projs {
				if p[0] == org {
					out = append(out, view(id))
				}
			}
			a.json(w, 200, out)
			return
		}
		id, err := strconv.ParseInt(seg[3], 10, 64)
		if p, ok := a.projs[id]; err != nil || len(seg) != 4 || !ok || p[0] != org {
			a.fail(w, 404, nil)
			return
		}
		a.json(w, 200, view(id))
	case r.Method == "GET" && path == "/admin/stats":
		if !need() {
			return
		}
		if u.Role != "admin" && !a.v.BFLA {
			a.fail(w, 403, nil)
			return
		}
		a.json(w, 200, map[string]any{"users": len(a.users)})
	default:
		a.fail(w, 404, nil)
	}
}

func toySpec(t *testing.T) *openapi.Spec {
	t.Helper()
	b, err := os.ReadFile("testdata/toy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := openapi.LoadBytes(b, "toy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scanToy runs checks against a toy API with blunders v, logged in as
// alice, bob and admin, and returns the findings.
func scanToy(t *testing.T, v vuln, cs ...scan.Check) []scan.Finding {
	t.Helper()
	srv := httptest.NewServer(newToy(t, v))
	t.Cleanup(srv.Close)
	ids := []*scan.Identity{
		scan.NewLoginIdentity("alice", "login", map[string]string{"username": "alice", "password": "alice-pw"}),
		scan.NewLoginIdentity("bob", "login", map[string]string{"username": "bob", "password": "bob-pw"}),
		scan.NewLoginIdentity("admin", "login", map[string]string{"username": "admin", "password": "admin-pw"}),
	}
	tg, err := scan.NewTarget(toySpec(t), srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 5000}), nil)
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
	return res.Findings
}

// expect runs c against a toy with v and against a correct toy: the first
// must yield findings with the given keys (operation/param/key), the
// second none.
func expect(t *testing.T, c scan.Check, v vuln, want ...string) {
	t.Helper()
	expectN(t, 1, c, v, want...)
}

// expectTimed is expect for the timing checks: their confirmation is
// conservative, so on a loaded machine (-race, parallel packages) a stall
// during the baseline can hide a real delay. The vulnerable scan gets up
// to three attempts (a miss is never a false positive); the correct scan
// still runs once and must stay silent.
func expectTimed(t *testing.T, c scan.Check, v vuln, want ...string) {
	t.Helper()
	expectN(t, 3, c, v, want...)
}

func expectN(t *testing.T, attempts int, c scan.Check, v vuln, want ...string) {
	t.Helper()
	t.Run("vulnerable", func(t *testing.T) {
		var fs []scan.Finding
		for i := 1; ; i++ {
			fs = scanToy(t, v, c)
			if i >= attempts || foundAll(fs, want) {
				break
			}
			t.Logf("attempt %d found %d of %d (timing noise); retrying", i, len(fs), len(want))
		}
		got := map[string]bool{}
		for _, f := range fs {
			got[f.Operation+"|"+f.Param] = true
			if f.CheckID != c.Meta().ID || f.Fingerprint == "" || f.Detail == "" {
				t.Errorf("incomplete finding %+v", f)
			}
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("finding %q missing; got %v", w, keys(got))
			}
		}
		if len(fs) != len(want) {
			t.Errorf("got %d findings %v, want %d %v", len(fs), keys(got), len(want), want)
		}
		for _, f := range fs {
			for _, e := range f.Evidence {
				if strings.Contains(e.Request, "eyJ") && !strings.Contains(e.Request, "<redacted") {
					t.Errorf("evidence leaks a token: %s", e.Request)
				}
			}
		}
	})
	t.Run("correct", func(t *testing.T) {
		if fs := scanToy(t, vuln{}, c); len(fs) != 0 {
			for _, f := range fs {
				t.Errorf("false positive on a correct API: %s %s %s: %s", f.CheckID, f.Operation, f.Param, f.Detail)
			}
		}
	})
}

// toyUnit is how long the toy's injected sleep(1) lasts.
const toyUnit = 25 * time.Millisecond

var (
	sqlSleepRe   = regexp.MustCompile(`(?i)' AND SLEEP\((\d+)\)`)
	shellSleepRe = regexp.MustCompile("(?:;|\\||\\$\\(|`)sleep (\\d+)")
)

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func foundAll(fs []scan.Finding, want []string) bool {
	got := map[string]bool{}
	for _, f := range fs {
		got[f.Operation+"|"+f.Param] = true
	}
	for _, w := range want {
		if !got[w] {
			return false
		}
	}
	return len(fs) == len(want)
}
