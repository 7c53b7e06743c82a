package policy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
)

func respCheck(t testing.TB, field string, typ celpolicy.Type, filter bool) *respOwnerCheck {
	t.Helper()
	op := &Operation{ID: "getNote", Method: "GET", Template: "/notes/{id}",
		ResponseType: func(string) celpolicy.Type { return typ }}
	rc, err := newRespOwnerCheck("getNote", &OwnerResponse{Field: field, Claim: "sub", Filter: filter}, op)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestRespOwnerCanonical: the response value is compared exactly as the
// request-side owner rule compares a JSON body value (CanonicalID + claim).
func TestRespOwnerCanonical(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   celpolicy.Type
		claim any
		body  string
		ok    bool
	}{
		{"int number", celpolicy.Int, "2", `{"owner_id":2}`, true},
		{"int as JSON string", celpolicy.Int, "2", `{"owner_id":"2"}`, true},
		{"int 2.0", celpolicy.Int, "2", `{"owner_id":2.0}`, false},
		{"int \"02\"", celpolicy.Int, "2", `{"owner_id":"02"}`, false},
		{"int 2e0", celpolicy.Int, "2", `{"owner_id":2e0}`, false},
		{"int -0", celpolicy.Int, "0", `{"owner_id":-0}`, false},
		{"int other", celpolicy.Int, "2", `{"owner_id":3}`, false},
		{"int numeric claim", celpolicy.Int, float64(2), `{"owner_id":2}`, true},
		{"int list claim member", celpolicy.Int, []any{float64(1), float64(2)}, `{"owner_id":2}`, true},
		{"int list claim non-member", celpolicy.Int, []any{float64(1)}, `{"owner_id":2}`, false},
		{"string exact", celpolicy.String, "2", `{"owner_id":"2"}`, true},
		{"string number literal", celpolicy.String, "2", `{"owner_id":2}`, true},
		{"string 2.0", celpolicy.String, "2", `{"owner_id":2.0}`, false},
		{"string \"02\"", celpolicy.String, "2", `{"owner_id":"02"}`, false},
		{"string case", celpolicy.String, "alice", `{"owner_id":"Alice"}`, false},
		{"string trailing space", celpolicy.String, "alice", `{"owner_id":"alice "}`, false},
		{"string empty", celpolicy.String, "", `{"owner_id":""}`, false},
		{"double by value", celpolicy.Double, "2", `{"owner_id":2.0}`, true},
		{"no claim", celpolicy.Int, nil, `{"owner_id":2}`, false},
		{"missing", celpolicy.Int, "2", `{"id":2}`, false},
		{"null", celpolicy.Int, "2", `{"owner_id":null}`, false},
		{"bool", celpolicy.Bool, "true", `{"owner_id":true}`, false},
		{"duplicate", celpolicy.Int, "2", `{"owner_id":2,"owner_id":3}`, false},
		{"duplicate same value", celpolicy.Int, "2", `{"owner_id":2,"owner_id":2}`, false},
		{"escaped duplicate", celpolicy.Int, "2", `{"owner_id":2,"owner\u005fid":3}`, false},
		{"case duplicate", celpolicy.Int, "2", `{"owner_id":2,"OWNER_ID":3}`, false},
		{"trailing data", celpolicy.Int, "2", `{"owner_id":2} x`, false},
		{"not JSON", celpolicy.Int, "2", `owner_id=2`, false},
		{"empty body", celpolicy.Int, "2", ``, false},
		{"scalar document", celpolicy.Int, "2", `2`, false},
		{"invalid utf-8", celpolicy.String, "2", "{\"owner_id\":\"2\",\"t\":\"\xff\"}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := respCheck(t, "/owner_id", tc.typ, false)
			res := rc.check([]byte(tc.body), tc.claim)
			if (res.reason == "") != tc.ok {
				t.Fatalf("check(%s) reason %q, want ok=%v", tc.body, res.reason, tc.ok)
			}
			if tc.ok && string(res.body) != tc.body {
				t.Fatalf("allowed body changed: %s", res.body)
			}
		})
	}
}

func TestRespOwnerPointerAndArrays(t *testing.T) {
	nested := respCheck(t, "/meta/owner~1id", celpolicy.Int, false)
	if r := nested.check([]byte(`{"meta":{"owner/id":5}}`), "5"); r.reason != "" {
		t.Fatalf("nested pointer: %s", r.reason)
	}
	if r := nested.check([]byte(`{"meta":[5]}`), "5"); r.reason == "" {
		t.Fatal("pointer through an array with a non-index token matched")
	}
	idx := respCheck(t, "/owners/0", celpolicy.Int, false)
	if r := idx.check([]byte(`{"owners":[5,6]}`), "5"); r.reason != "" {
		t.Fatalf("index pointer: %s", r.reason)
	}
	if r := idx.check([]byte(`{"owners":[]}`), "5"); r.reason == "" {
		t.Fatal("index out of range matched")
	}

	list := `[{"id":1,"owner_id":1}, {"id":2,"owner_id":2,"x":"SECRET"} ,{"id":3,"owner_id":"1"},{"id":4},7,{"id":5,"owner_id":1.0}]`
	f := respCheck(t, "/owner_id", celpolicy.Int, true)
	r := f.check([]byte(list), "1")
	if r.reason != "" || string(r.body) != `[{"id":1,"owner_id":1},{"id":3,"owner_id":"1"}]` || r.removed != 4 {
		t.Fatalf("filter: %q %s removed=%d", r.reason, r.body, r.removed)
	}
	if r := f.check([]byte(`[]`), "1"); r.reason != "" || string(r.body) != `[]` {
		t.Fatalf("empty list: %q %s", r.reason, r.body)
	}
	if r := f.check([]byte(`[{"owner_id":1,"owner_id":2}]`), "1"); r.reason == "" {
		t.Fatal("filter accepted a list with a duplicate key")
	}
	strict := respCheck(t, "/owner_id", celpolicy.Int, false)
	if r := strict.check([]byte(list), "1"); r.reason == "" || !strings.Contains(r.reason, "element 1") {
		t.Fatalf("strict list: %q", r.reason)
	}
	own := `[{"owner_id":1},{"owner_id":"1"}]`
	if r := strict.check([]byte(own), "1"); r.reason != "" || string(r.body) != own {
		t.Fatalf("strict own list: %q %s", r.reason, r.body)
	}
}

func TestRespOwnerNewErrors(t *testing.T) {
	ops := []Operation{
		{ID: "getNote", Method: "GET", Template: "/notes/{id}", OwnerField: "/owner_id"},
		{ID: "listNotes", Method: "GET", Template: "/notes"},
		{ID: "deleteNote", Method: "DELETE", Template: "/notes/{id}"},
		{ID: "postSearch", Method: "POST", Template: "/search"},
	}
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"unsafe DELETE", Rule{Key: "deleteNote", OwnerResponse: &OwnerResponse{Field: "/o", Claim: "sub"}}, "for reads"},
		{"unsafe POST", Rule{Key: "postSearch", OwnerResponse: &OwnerResponse{Field: "/o", Claim: "sub"}}, "for reads"},
		{"tag group", Rule{Key: "path:/notes/**", OwnerResponse: &OwnerResponse{Field: "/o", Claim: "sub"}}, "operation key"},
		{"no claim", Rule{Key: "getNote", OwnerResponse: &OwnerResponse{Field: "/o"}}, "owner_response.claim"},
		{"no field, no extension", Rule{Key: "listNotes", OwnerResponse: &OwnerResponse{Claim: "sub"}}, "field is required"},
		{"not a pointer", Rule{Key: "getNote", OwnerResponse: &OwnerResponse{Field: "owner_id", Claim: "sub"}}, "JSON pointer"},
		{"bad escape", Rule{Key: "getNote", OwnerResponse: &OwnerResponse{Field: "/a~2", Claim: "sub"}}, "'~'"},
		{"bad status", Rule{Key: "getNote", OwnerResponse: &OwnerResponse{Field: "/o", Claim: "sub", DenyStatus: 500}}, "deny_status"},
		{"public with it", Rule{Key: "getNote", Public: true, OwnerResponse: &OwnerResponse{Field: "/o", Claim: "sub"}}, "public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Default: Authenticated, Operations: ops, Rules: []Rule{tc.rule}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// The operation's OwnerField (x-gatehouse-owner-field) is the default.
	p, err := New(Options{Default: Authenticated, Operations: ops,
		Rules: []Rule{{Key: "getNote", OwnerResponse: &OwnerResponse{Claim: "sub"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rc := p.byID["getNote"].respOwner; rc == nil || rc.field != "/owner_id" || rc.status != http.StatusNotFound {
		t.Fatalf("compiled = %+v", rc)
	}
	if p.byID["listNotes"].respOwner != nil {
		t.Fatal("an operation without the rule got a response check")
	}
}

// notesServer serves GET /notes/{id} in library mode: the handler answers
// with body(id) and the policy checks the response.
func notesServer(t testing.TB, mode gatehouse.Mode, body func(id string) (int, string, string)) (*httptest.Server, *Policy) {
	ops := []Operation{{ID: "getNote", Method: "GET", Template: "/notes/{id}", OwnerField: "/owner_id",
		ResponseType: func(string) celpolicy.Type { return celpolicy.Int }}}
	p, err := New(Options{Default: Authenticated, Operations: ops, Resolve: PatternRoute, MaxResponseBody: 1024,
		ModeFor: func(*gatehouse.Route) gatehouse.Mode { return mode },
		Rules:   []Rule{{Key: "getNote", OwnerResponse: &OwnerResponse{Claim: "sub", UnlessRoles: []string{"admin"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /notes/{id}", p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, ct, b := body(r.PathValue("id"))
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-Upstream", "leak")
		w.WriteHeader(status)
		io.WriteString(w, b)
	})))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &gatehouse.Record{}
		ctx := gatehouse.NewRecordContext(r.Context(), rec)
		if pr := principals[r.Header.Get("X-Who")]; pr != nil {
			ctx = authn.NewContext(ctx, pr)
		}
		w.Header().Set("X-Outer", "kept")
		mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv, p
}

func TestRespOwnerMiddleware(t *testing.T) {
	bodies := func(id string) (int, string, string) {
		switch id {
		case "big":
			return 200, "application/json", `{"owner_id":1,"x":"` + strings.Repeat("a", 2000) + `"}`
		case "text":
			return 200, "text/plain", "owner_id: 1"
		case "err":
			return 500, "application/json", `{"owner_id":2,"oops":true}`
		}
		return 200, "application/json", fmt.Sprintf(`{"owner_id":%s,"text":"note"}`, id)
	}
	srv, _ := notesServer(t, gatehouse.Enforce, bodies)
	for _, tc := range []struct {
		who, id string
		status  int
	}{
		{"alice", "1", 200}, {"alice", "2", 404}, {"bob", "2", 200}, {"admin", "2", 200},
		{"alice", "big", 502}, {"alice", "text", 404}, {"alice", "err", 500},
	} {
		t.Run(tc.who+"/"+tc.id, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/notes/"+tc.id, nil)
			req.Header.Set("X-Who", tc.who)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, b)
			}
			if resp.Header.Get("X-Outer") != "kept" {
				t.Fatal("outer header lost")
			}
			if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
				t.Fatalf("Content-Length %s for %d bytes", cl, len(b))
			}
			if tc.status == 404 || tc.status == 502 {
				if strings.Contains(string(b), "owner_id") || resp.Header.Get("X-Upstream") != "" {
					t.Fatalf("denied response leaked body %q or upstream header", b)
				}
			}
		})
	}
}

func TestRespOwnerMonitorPasses(t *testing.T) {
	srv, _ := notesServer(t, gatehouse.Monitor, func(id string) (int, string, string) {
		return 200, "application/json", `{"owner_id":2}`
	})
	req, _ := http.NewRequest("GET", srv.URL+"/notes/2", nil)
	req.Header.Set("X-Who", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"owner_id":2}` {
		t.Fatalf("monitor: %d %s", resp.StatusCode, b)
	}
}

// TestRespOwnerRecord checks the audit record of a denial and of a
// monitored mismatch directly on the handler.
func TestRespOwnerRecord(t *testing.T) {
	for _, mode := range []gatehouse.Mode{gatehouse.Enforce, gatehouse.Monitor} {
		t.Run(mode.String(), func(t *testing.T) {
			_, p := notesServer(t, mode, nil)
			h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"owner_id":2}`)
			}))
			rec := &gatehouse.Record{}
			r := httptest.NewRequest("GET", "/notes/2", nil)
			r.SetPathValue("id", "2")
			r.Pattern = "GET /notes/{id}"
			r = r.WithContext(authn.NewContext(gatehouse.NewRecordContext(r.Context(), rec), principals["alice"]))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			s := rec.Snapshot()
			want := 404
			if mode == gatehouse.Monitor {
				want = 200
			}
			if w.Code != want {
				t.Fatalf("status %d, want %d", w.Code, want)
			}
			const reason = "getNote: response owner mismatch"
			if mode == gatehouse.Enforce && (s.Stage != "authz" || s.Reason != reason) {
				t.Fatalf("record stage=%q reason=%q monitored=%q", s.Stage, s.Reason, s.Monitored)
			}
			if mode == gatehouse.Monitor && (s.Stage != "" || len(s.Monitored) != 1 || s.Monitored[0] != "authz: "+reason) {
				t.Fatalf("record stage=%q reason=%q monitored=%q", s.Stage, s.Reason, s.Monitored)
			}
		})
	}
}

// BenchmarkOwnerResponse1KiB: one allowed 1 KiB JSON object response
// through the middleware (buffer, strict parse, compare, send).
func BenchmarkOwnerResponse1KiB(b *testing.B) {
	body := `{"id":4,"owner_id":1,"text":"` + strings.Repeat("n", 1024-40) + `"}`
	ops := []Operation{{ID: "getNote", Method: "GET", Template: "/notes/{id}",
		ResponseType: func(string) celpolicy.Type { return celpolicy.Int }}}
	p, err := New(Options{Default: Authenticated, Operations: ops, Resolve: fromCtx,
		Rules: []Rule{{Key: "getNote", OwnerResponse: &OwnerResponse{Field: "/owner_id", Claim: "sub"}}}})
	if err != nil {
		b.Fatal(err)
	}
	bb := []byte(body)
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(bb)
	}))
	rt := &gatehouse.Route{OperationID: "getNote", Method: "GET", Template: "/notes/{id}", Params: map[string]string{"id": "4"}}
	r := httptest.NewRequest("GET", "/notes/4", nil)
	r = r.WithContext(authn.NewContext(gatehouse.WithRoute(r.Context(), rt), principals["alice"]))
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(bb)))
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.code != 200 {
			b.Fatal(w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(c int)           { d.code = c }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// FuzzRespOwner feeds arbitrary upstream bodies to the response check. An
// allowed object is sent byte for byte; an allowed list (filtered) is valid
// strict JSON whose every element is owned by the caller, "1".
func FuzzRespOwner(f *testing.F) {
	for _, s := range []string{`{"owner_id":1}`, `{"owner_id":"1"}`, `{"owner_id":1,"owner_id":2}`,
		`[{"owner_id":1},{"owner_id":2}]`, `[{"owner_id":1} , {"owner_id":"01"}]`, `{"owner_id":1.0}`, `[]`, `x`} {
		f.Add(s)
	}
	filter := respCheck(f, "/owner_id", celpolicy.Int, true)
	strict := respCheck(f, "/owner_id", celpolicy.Int, false)
	f.Fuzz(func(t *testing.T, body string) {
		for _, rc := range []*respOwnerCheck{filter, strict} {
			res := rc.check([]byte(body), "1")
			if res.reason != "" {
				continue
			}
			if res.removed == 0 && string(res.body) != body {
				t.Fatalf("allowed body changed: %q -> %q", body, res.body)
			}
			v, err := parseJSON(res.body)
			if err != nil {
				t.Fatalf("sent body %q is not strict JSON: %v", res.body, err)
			}
			elems, isList := v.([]any)
			if !isList {
				elems = []any{v}
			}
			for _, e := range elems {
				if why := rc.ownerOf(e, "1"); why != "" {
					t.Fatalf("sent %q holds a foreign element: %s", res.body, why)
				}
			}
		}
	})
}
