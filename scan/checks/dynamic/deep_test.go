package dynamic_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// deepVuln selects the blunders of the deep API; the zero value is a
// correct API. Each blunder sits where the data goes in beyond top-level
// POST strings: a path parameter, a nested body field, a PUT body and a
// header declared as a parameter.
type deepVuln struct {
	// SQLiTime and CmdTime: a database / shell sleep in {shelf}, in
	// filter.owner.name of POST /search, in the text of PUT /notes/{id}
	// and in the X-Tenant header delays the answer (toyUnit per second).
	SQLiTime, CmdTime bool
	// NoSQL: filter.owner.name of POST /search is matched like a Mongo
	// filter ({"$ne": v} lists every book).
	NoSQL bool
	// SQLiErr: the X-Tenant header is concatenated into SQL; an
	// unbalanced quote answers the database error.
	SQLiErr bool
	// CookieSQLi: the region cookie of GET /reports (read as Express's
	// cookie parser reads it: split on ';', percent-decoded) is
	// concatenated into SQL; an unbalanced quote answers the database
	// error. The session cookie beside it is never probed.
	CookieSQLi bool
	// LockedDelete: DELETE /notes/{id} answers 403 to everyone (the
	// cleanup cannot delete; it must say so).
	LockedDelete bool
	// Upsert: POST /notes answers 200 with the caller's existing note
	// whatever it is sent (a get-or-create): the scan created nothing
	// and must delete nothing.
	Upsert bool
	// Pollution: POST /members checks the first "role" of the body but
	// stores the last; GET /note?note_id= authorizes the first note_id but
	// answers the last.
	Pollution bool
}

type deepNote struct {
	owner, text string
}

// deep is a small API over real HTTP whose injectable inputs are a path
// parameter, a nested body field, a PUT body and a header. Callers are
// alice and bob with static bearer tokens.
type deep struct {
	v  deepVuln
	db *sql.DB

	mu      sync.Mutex
	notes   map[int]*deepNote
	tags    int
	members map[int]map[string]any
	nextID  int
	// foreignPuts counts PUTs by one caller on another's note: the
	// probes must never aim there.
	foreignPuts int
	// sessionProbed: a request carried an app_session cookie (the scan has
	// none to send; only a probe would set it).
	sessionProbed atomic.Bool
}

var deepBooks = []map[string]any{
	{"title": "dune", "owner": "alice", "shelf": "scifi"},
	{"title": "emma", "owner": "bob", "shelf": "classics"},
	{"title": "ubik", "owner": "bob", "shelf": "scifi"},
}

func newDeep(t *testing.T, v deepVuln) *deep {
	t.Helper()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE reports (tenant TEXT, name TEXT); INSERT INTO reports VALUES ('acme', 'q1'), ('acme', 'q2')`); err != nil {
		t.Fatal(err)
	}
	// Each member has a note the scan did not create: it must survive.
	return &deep{v: v, db: db, notes: map[int]*deepNote{1: {owner: "alice", text: "mine"}, 2: {owner: "bob", text: "his"}}, nextID: 10,
		members: map[int]map[string]any{}}
}

// count returns how many notes and tags the API holds.
func (a *deep) count() (notes, tags int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.notes), a.tags
}

// slow sleeps as a database or shell would for the sleep a value carries.
func (a *deep) slow(v string) {
	if m := sqlSleepRe.FindStringSubmatch(v); m != nil && a.v.SQLiTime {
		n, _ := strconv.Atoi(m[1])
		time.Sleep(time.Duration(n) * toyUnit)
	}
	if m := shellSleepRe.FindStringSubmatch(v); m != nil && a.v.CmdTime {
		n, _ := strconv.Atoi(m[1])
		time.Sleep(time.Duration(n) * toyUnit)
	}
}

func (a *deep) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *deep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := map[string]string{"Bearer tok-alice": "alice", "Bearer tok-bob": "bob"}[r.Header.Get("Authorization")]
	if user == "" {
		a.send(w, 401, map[string]any{"error": "unauthorized"})
		return
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "shelves":
		a.slow(seg[1])
		out := []any{}
		for _, b := range deepBooks {
			if b["shelf"] == seg[1] {
				out = append(out, b)
			}
		}
		a.send(w, 200, out)
	case r.Method == "POST" && r.URL.Path == "/search":
		var in struct {
			Filter struct {
				Owner struct {
					Name any `json:"name"`
				} `json:"owner"`
			} `json:"filter"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			a.send(w, 400, map[string]any{"error": "bad json"})
			return
		}
		out := []any{}
		switch name := in.Filter.Owner.Name.(type) {
		case string:
			a.slow(name)
			for _, b := range deepBooks {
				if b["owner"] == name {
					out = append(out, b)
				}
			}
		case map[string]any:
			if !a.v.NoSQL {
				a.send(w, 400, map[string]any{"error": "name must be a string"})
				return
			}
			for _, b := range deepBooks {
				if ne, ok := name["$ne"]; ok && b["owner"] != ne {
					out = append(out, b)
				}
			}
		default:
			a.send(w, 400, map[string]any{"error": "name must be a string"})
			return
		}
		a.send(w, 200, out)
	case r.Method == "POST" && r.URL.Path == "/notes" && a.v.Upsert:
		a.mu.Lock()
		defer a.mu.Unlock()
		for id, n := range a.notes {
			if n.owner == user {
				a.send(w, 200, map[string]any{"id": id, "owner": n.owner, "text": n.text})
				return
			}
		}
		a.send(w, 404, map[string]any{"error": "not found"})
	case r.Method == "POST" && r.URL.Path == "/notes":
		var in struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		a.mu.Lock()
		a.nextID++
		id := a.nextID
		a.notes[id] = &deepNote{owner: user, text: in.Text}
		a.mu.Unlock()
		a.send(w, 201, map[string]any{"id": id, "owner": user, "text": in.Text})
	case r.Method == "GET" && r.URL.Path == "/notes":
		out := []any{}
		a.mu.Lock()
		for id, n := range a.notes {
			if n.owner == user {
				out = append(out, map[string]any{"id": id, "owner": n.owner, "text": n.text})
			}
		}
		a.mu.Unlock()
		a.send(w, 200, out)
	case r.Method == "POST" && r.URL.Path == "/members":
		raw, _ := io.ReadAll(r.Body)
		var in struct{ Name, Role string }
		if json.Unmarshal(raw, &in) != nil { // encoding/json: the last duplicate wins
			a.send(w, 400, map[string]any{"error": "bad json"})
			return
		}
		checked := in.Role
		if a.v.Pollution { // the permission check reads the first occurrence
			checked = firstRole(raw)
		}
		if checked == "admin" {
			a.send(w, 403, map[string]any{"error": "only admins may create admins"})
			return
		}
		a.mu.Lock()
		a.nextID++
		m := map[string]any{"id": a.nextID, "name": in.Name, "role": in.Role, "owner": user}
		a.members[a.nextID] = m
		a.mu.Unlock()
		a.send(w, 201, m)
	case len(seg) == 2 && seg[0] == "members":
		id, _ := strconv.Atoi(seg[1])
		a.mu.Lock()
		m := a.members[id]
		if m != nil && m["owner"] == user && r.Method == "DELETE" {
			delete(a.members, id)
			a.mu.Unlock()
			w.WriteHeader(204)
			return
		}
		a.mu.Unlock()
		if m == nil || m["owner"] != user || r.Method != "GET" {
			a.send(w, 404, map[string]any{"error": "not found"})
			return
		}
		a.send(w, 200, m)
	case r.Method == "GET" && r.URL.Path == "/note":
		vals := r.URL.Query()["note_id"]
		if len(vals) == 0 {
			a.send(w, 400, map[string]any{"error": "note_id required"})
			return
		}
		checked, used := vals[0], vals[0]
		if a.v.Pollution {
			used = vals[len(vals)-1]
		}
		a.mu.Lock()
		c, _ := strconv.Atoi(checked)
		u, _ := strconv.Atoi(used)
		cn, un := a.notes[c], a.notes[u]
		a.mu.Unlock()
		if cn == nil || cn.owner != user || un == nil {
			a.send(w, 404, map[string]any{"error": "not found"})
			return
		}
		a.send(w, 200, map[string]any{"id": u, "owner": un.owner, "text": un.text})
	case r.Method == "POST" && r.URL.Path == "/tags":
		a.mu.Lock()
		a.tags++
		a.nextID++
		id := a.nextID
		a.mu.Unlock()
		a.send(w, 201, map[string]any{"id": id})
	case len(seg) == 2 && seg[0] == "notes":
		id, _ := strconv.Atoi(seg[1])
		a.mu.Lock()
		n := a.notes[id]
		if n != nil && n.owner != user && r.Method == "PUT" {
			a.foreignPuts++
		}
		a.mu.Unlock()
		if n == nil || n.owner != user {
			a.send(w, 404, map[string]any{"error": "not found"})
			return
		}
		switch r.Method {
		case "GET":
			a.send(w, 200, map[string]any{"id": id, "owner": n.owner, "text": n.text})
		case "PUT":
			var in struct{ Text string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			a.slow(in.Text)
			a.mu.Lock()
			n.text = in.Text
			a.mu.Unlock()
			a.send(w, 200, map[string]any{"id": id, "owner": n.owner, "text": in.Text})
		case "DELETE":
			if a.v.LockedDelete {
				a.send(w, 403, map[string]any{"error": "notes cannot be deleted"})
				return
			}
			a.mu.Lock()
			delete(a.notes, id)
			a.mu.Unlock()
			w.WriteHeader(204)
		default:
			a.send(w, 405, map[string]any{"error": "method not allowed"})
		}
	case r.Method == "GET" && r.URL.Path == "/reports":
		tenant := r.Header.Get("X-Tenant")
		a.slow(tenant)
		var rows *sql.Rows
		var err error
		region := expressCookie(r, "region")
		if expressCookie(r, "app_session") != "" {
			a.sessionProbed.Store(true)
		}
		if region != "" {
			if a.v.CookieSQLi {
				_, err = a.db.Exec("SELECT count(*) FROM reports WHERE name <> '" + region + "'")
			} else {
				_, err = a.db.Exec("SELECT count(*) FROM reports WHERE name <> ?", region)
			}
			if err != nil && a.v.CookieSQLi {
				w.WriteHeader(500)
				fmt.Fprintf(w, "query failed: %v", err)
				return
			}
		}
		if a.v.SQLiErr {
			rows, err = a.db.Query("SELECT name FROM reports WHERE tenant = '" + tenant + "'")
		} else {
			rows, err = a.db.Query("SELECT name FROM reports WHERE tenant = ?", tenant)
		}
		if err != nil {
			if a.v.SQLiErr {
				w.WriteHeader(500)
				fmt.Fprintf(w, "query failed: %v", err)
				return
			}
			a.send(w, 500, map[string]any{"error": "internal error"})
			return
		}
		defer rows.Close()
		out := []any{}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			out = append(out, map[string]any{"name": n})
		}
		a.send(w, 200, out)
	default:
		a.send(w, 404, map[string]any{"error": "not found"})
	}
}

// firstRole returns the first "role" of a JSON object, as a streaming
// validator that stops at the first match would read it.
func firstRole(raw []byte) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return ""
		}
		var v any
		if d.Decode(&v) != nil {
			return ""
		}
		if k == "role" {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

const deepSpec = `openapi: 3.1.0
info: { title: deep, version: "1" }
security:
  - bearer: []
paths:
  /shelves/{shelf}:
    get:
      operationId: getShelf
      parameters:
        - { name: shelf, in: path, required: true, schema: { type: string }, example: scifi }
      responses:
        "200": { description: ok }
  /search:
    post:
      operationId: search
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                filter:
                  type: object
                  properties:
                    owner:
                      type: object
                      properties:
                        name: { type: string }
      responses:
        "200": { description: ok }
  /members:
    post:
      operationId: createMember
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: { type: string }
                role: { type: string, enum: [member, admin] }
      responses:
        "201": { description: created }
  /members/{member_id}:
    parameters:
      - { name: member_id, in: path, required: true, schema: { type: integer } }
    get:
      operationId: getMember
      responses:
        "200": { description: ok }
    delete:
      operationId: deleteMember
      responses:
        "204": { description: deleted }
  /note:
    get:
      operationId: readNote
      parameters:
        - { name: note_id, in: query, required: true, schema: { type: integer }, example: 1 }
      responses:
        "200": { description: ok }
  /tags:
    post:
      operationId: createTag
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                label: { type: string, enum: [red, blue] }
      responses:
        "201": { description: created }
  /notes:
    get:
      operationId: listNotes
      responses:
        "200": { description: ok }
    post:
      operationId: createNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: { type: string }
      responses:
        "201": { description: created }
  /notes/{note_id}:
    parameters:
      - { name: note_id, in: path, required: true, schema: { type: integer } }
    get:
      operationId: getNote
      responses:
        "200": { description: ok }
    put:
      operationId: updateNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: { type: string }
      responses:
        "200": { description: ok }
    delete:
      operationId: deleteNote
      responses:
        "204": { description: deleted }
  /reports:
    get:
      operationId: listReports
      parameters:
        - { name: X-Tenant, in: header, schema: { type: string }, example: acme }
        - { name: X-Api-Key, in: header, schema: { type: string } }
        - { name: region, in: cookie, schema: { type: string } }
        - { name: app_session, in: cookie, schema: { type: string } }
      responses:
        "200": { description: ok }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
`

// scanDeep runs checks against a deep API with blunders v as alice and bob
// and returns the result and the API.
func scanDeep(t *testing.T, v deepVuln, cs ...scan.Check) (*scan.Result, *deep) {
	t.Helper()
	api := newDeep(t, v)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(deepSpec), "deep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := []*scan.Identity{
		scan.NewHeaderIdentity("alice", http.Header{"Authorization": {"Bearer tok-alice"}}),
		scan.NewHeaderIdentity("bob", http.Header{"Authorization": {"Bearer tok-bob"}}),
	}
	tg, err := scan.NewTarget(spec, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 3000}), nil)
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
	return res, api
}

// expectDeep: the deep API with v yields exactly the findings want
// (operation|param), within attempts scans (timing checks get 3); the
// correct API yields none. No probe ever rewrites another's note.
func expectDeep(t *testing.T, attempts int, c scan.Check, v deepVuln, want ...string) {
	t.Helper()
	t.Run("vulnerable", func(t *testing.T) {
		var res *scan.Result
		var api *deep
		for i := 1; ; i++ {
			res, api = scanDeep(t, v, c)
			if i >= attempts || foundAll(res.Findings, want) {
				break
			}
			t.Logf("attempt %d found %d of %d (timing noise); retrying", i, len(res.Findings), len(want))
		}
		got := findingKeys(res.Findings)
		for _, w := range want {
			if !got[w] {
				t.Errorf("finding %q missing; got %v", w, keys(got))
			}
		}
		if len(res.Findings) != len(want) {
			t.Errorf("got %d findings %v, want %d %v", len(res.Findings), keys(got), len(want), want)
		}
		if api.foreignPuts != 0 {
			t.Errorf("%d probes rewrote another identity's note", api.foreignPuts)
		}
	})
	t.Run("correct", func(t *testing.T) {
		res, api := scanDeep(t, deepVuln{}, c)
		for _, f := range res.Findings {
			t.Errorf("false positive: %s %s %s: %s", f.CheckID, f.Operation, f.Param, f.Detail)
		}
		if api.foreignPuts != 0 {
			t.Errorf("%d probes rewrote another identity's note", api.foreignPuts)
		}
	})
}

// The time-based checks reach a path parameter, a nested body field, a
// PUT body (on the prober's own note) and a header declared as a
// parameter; the API-key header is a credential and is left alone.
func TestTimeBasedInjectionPoints(t *testing.T) {
	want := []string{"getShelf|path shelf", "search|body filter.owner.name", "updateNote|body text", "listReports|header X-Tenant"}
	t.Run("sql", func(t *testing.T) {
		expectDeep(t, 3, dynamic.SQLiTime{Unit: toyUnit}, deepVuln{SQLiTime: true}, want...)
	})
	t.Run("shell", func(t *testing.T) {
		expectDeep(t, 3, dynamic.CommandInjection{Unit: toyUnit}, deepVuln{CmdTime: true}, want...)
	})
}

// NoSQL operators reach a nested body field.
func TestNoSQLInjectionNested(t *testing.T) {
	expectDeep(t, 1, dynamic.NoSQLInjection{}, deepVuln{NoSQL: true}, "search|body filter.owner.name")
}

// expressCookie reads cookie name as Node's cookie parser does: pairs
// split on ';', the value percent-decoded (left as sent when that fails).
func expressCookie(r *http.Request, name string) string {
	for _, kv := range strings.Split(r.Header.Get("Cookie"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == name {
			if d, err := url.PathUnescape(v); err == nil {
				return d
			}
			return v
		}
	}
	return ""
}

// The error-based check reaches a cookie declared as a parameter (its
// payload's ';' percent-encoded, the identity's credentials still sent),
// and never probes the session cookie declared beside it.
func TestSQLiErrorCookie(t *testing.T) {
	expectDeep(t, 1, dynamic.SQLiError{}, deepVuln{CookieSQLi: true}, "listReports|cookie region")
	res, api := scanDeep(t, deepVuln{CookieSQLi: true}, dynamic.SQLiError{})
	if api.sessionProbed.Load() {
		t.Error("the app_session cookie was probed: a session cookie carries the identity")
	}
	// The API answers 401 without the bearer token: the finding proves the
	// identity's credentials went with the probed cookie.
	if len(res.Findings) != 1 {
		t.Errorf("findings %v, want the region cookie's", findingKeys(res.Findings))
	}
}

// The error-based check reaches a header declared as a parameter.
func TestSQLiErrorHeader(t *testing.T) {
	expectDeep(t, 1, dynamic.SQLiError{}, deepVuln{SQLiErr: true}, "listReports|header X-Tenant")
}

// Everything the scan creates where the spec has a DELETE is deleted at
// the end, as its creator: the note count is back to the start, and the
// notes the scan did not create are still there. Tags have no DELETE and
// a locked API refuses: the result says what was left behind and why.
func TestCleanupDeletesWhatTheScanCreated(t *testing.T) {
	cs := []scan.Check{dynamic.SQLiError{}, dynamic.SQLiTime{Unit: toyUnit}, dynamic.NoSQLInjection{}, dynamic.BOLA{}, dynamic.MassAssignment{}, dynamic.InputValidation{}}
	kept := func(res *scan.Result) map[string]int {
		m := map[string]int{}
		for _, c := range res.Cleanup {
			if c.Status == scan.CleanKept {
				m[c.Operation+": "+c.Reason]++
			}
		}
		return m
	}
	t.Run("deletable", func(t *testing.T) {
		res, api := scanDeep(t, deepVuln{}, cs...)
		notes, tags := api.count()
		if notes != 2 {
			t.Errorf("%d notes after the scan, want the 2 it started with", notes)
		}
		api.mu.Lock()
		if api.notes[1] == nil || api.notes[2] == nil {
			t.Errorf("the cleanup deleted a note the scan did not create: %v", api.notes)
		}
		api.mu.Unlock()
		deleted := 0
		for _, c := range res.Cleanup {
			switch {
			case c.Operation == "createNote" && c.Status == scan.CleanGone:
			case c.Operation == "createNote" && c.Status == scan.CleanDeleted:
				deleted++
				if c.Delete != "deleteNote" || c.Identity == "" || !strings.HasPrefix(c.Path, "/notes/") {
					t.Errorf("incomplete record %+v", c)
				}
			case c.Operation == "createNote":
				t.Errorf("note not deleted: %+v", c)
			}
		}
		if deleted == 0 || tags == 0 {
			t.Fatalf("the scan created %d notes (deleted) and %d tags: nothing tested", deleted, tags)
		}
		if k := kept(res); k["createTag: no DELETE operation on /tags/{…}"] != tags || len(k) != 1 {
			t.Errorf("left behind %v, want the %d tags (no DELETE operation)", k, tags)
		}
		t.Logf("%s", strings.Join(scan.CleanupSummary(res.Cleanup), "; "))
	})
	t.Run("get-or-create", func(t *testing.T) {
		res, api := scanDeep(t, deepVuln{Upsert: true}, cs...)
		if notes, _ := api.count(); notes != 2 {
			t.Errorf("%d notes after the scan, want the 2 it did not create", notes)
		}
		for _, c := range res.Cleanup {
			if c.Operation == "createNote" {
				t.Errorf("an existing note recorded as created: %+v", c)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		res, api := scanDeep(t, deepVuln{LockedDelete: true}, cs...)
		notes, _ := api.count()
		k := kept(res)
		if notes <= 2 || k["createNote: DELETE refused: 403"] != notes-2 {
			t.Errorf("%d notes after the scan; left behind %v: want each created note reported as refused", notes, k)
		}
	})
}

// A duplicated JSON key and a repeated query parameter are found only by
// their effect: the privileged role stored (read back) where the role alone
// was refused, another's note answered where its id alone was refused.
// The correct API parses once (the last key wins for both the check and
// the store; the same note_id is checked and answered): silent.
func TestParameterPollution(t *testing.T) {
	expectDeep(t, 1, dynamic.ParameterPollution{}, deepVuln{Pollution: true}, "createMember|body role", "readNote|query note_id")
}
