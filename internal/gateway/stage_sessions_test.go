package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn/revocation"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const sessionSpec = `openapi: 3.0.3
info: {title: shop, version: "1"}
paths:
  /login:
    post:
      operationId: login
      responses: {"200": {description: ok}}
  /logout:
    post:
      operationId: logout
      responses: {"204": {description: ok}}
  /me:
    get:
      operationId: getMe
      responses: {"200": {description: ok}, "401": {description: no session}}
`

// sessionUpstream keeps its own sessions and, like the upstreams this
// feature is for, does not end them on logout (it only clears the
// cookie). GET /me answers 200 for any known session value, read
// leniently (quotes stripped, percent-decoded, name in any case).
type sessionUpstream struct {
	url      string
	mu       sync.Mutex
	sessions map[string]bool
	me       atomic.Int64 // GET /me requests received
}

func newSessionUpstream(t *testing.T) *sessionUpstream {
	t.Helper()
	u := &sessionUpstream{sessions: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			var b [18]byte
			_, _ = rand.Read(b[:])
			v := "s+" + base64.StdEncoding.EncodeToString(b[:]) + "/x" // '+' and '/' as many session IDs have
			u.mu.Lock()
			u.sessions[v] = true
			u.mu.Unlock()
			w.Header().Add("Set-Cookie", "sid="+v+"; Path=/; Max-Age=3600; HttpOnly")
			w.Header().Add("Set-Cookie", "theme=dark; Path=/")
			_, _ = io.WriteString(w, v)
		case "/logout":
			w.Header().Add("Set-Cookie", "sid=; Path=/; Max-Age=0")
			w.WriteHeader(http.StatusNoContent)
		case "/me":
			u.me.Add(1)
			for _, h := range r.Header.Values("Cookie") {
				for _, pair := range strings.Split(h, ";") {
					name, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
					val = strings.Trim(val, `"`)
					if dv, err := url.PathUnescape(val); err == nil {
						val = dv
					}
					u.mu.Lock()
					ok := u.sessions[val]
					u.mu.Unlock()
					if strings.EqualFold(name, "sid") && ok {
						_, _ = io.WriteString(w, "you")
						return
					}
				}
			}
			w.WriteHeader(http.StatusUnauthorized)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	u.url = "http://" + ln.Addr().String()
	return u
}

// startSessionGateway runs a gateway (NewServer + Run on a real listener)
// in front of up with the given extra config; it returns its base URL.
func startSessionGateway(t *testing.T, up *sessionUpstream, extra string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), sessionSpec)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, cfgPath, "listen: \"127.0.0.1:0\"\nupstream: \""+up.url+"\"\nspec: spec.yaml\nauthz: {default: public}\n"+
		"response: {mode: off}\ntimeouts: {shutdown: 5s}\n"+extra)
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(context.Background(), ServerOptions{ConfigPath: cfgPath,
		Logger: slog.New(slog.DiscardHandler), PublicListener: pub})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + pub.Addr().String()
}

// client is who sends a request: its address (X-Forwarded-For, the
// gateway trusting 127.0.0.1 as its front proxy) and User-Agent.
type client struct{ ip, ua string }

var (
	victim   = client{"203.0.113.7", "Mozilla/5.0 (victim)"}
	attacker = client{"198.51.100.9", "Mozilla/5.0 (victim)"} // copied the victim's User-Agent too
)

// send does one request with the given Cookie header fields (each its own
// field, as sent) and returns the status and the body.
func (c client) send(t *testing.T, method, url string, cookies ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	req.Header.Set("User-Agent", c.ua)
	for _, ck := range cookies {
		req.Header.Add("Cookie", ck)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// login logs c in and returns the session value the upstream set.
func (c client) login(t *testing.T, base string) string {
	t.Helper()
	code, v := c.send(t, "POST", base+"/login")
	if code != 200 || v == "" {
		t.Fatalf("login: %d %q", code, v)
	}
	return v
}

const sessionsBase = "trusted_proxies: [\"127.0.0.1/32\"]\n"

// TestAttackSessionCookieReplayAfterLogout: after a logout answered 2xx by
// the upstream (which, here, does not end the session itself), the
// session cookie is refused with 401 before the upstream however it is
// spelled: as sent, percent-encoded, quoted, '+' as a space, another name
// case or a percent-encoded name, hidden behind a first cookie of the
// same name, in a second Cookie header, after a comma. A session that did
// not log out still works; without cookies.sessions the replay works
// (the upstream's bug the feature covers).
func TestAttackSessionCookieReplayAfterLogout(t *testing.T) {
	up := newSessionUpstream(t)
	base := startSessionGateway(t, up, sessionsBase+"cookies:\n  sessions:\n    names: [sid]\n    logout_operations: [logout]\n")
	open := startSessionGateway(t, up, sessionsBase) // no session handling: the control
	v := victim.login(t, base)
	other := victim.login(t, base)
	if code, _ := victim.send(t, "GET", base+"/me", "sid="+v); code != 200 {
		t.Fatalf("before logout: %d", code)
	}
	if code, _ := victim.send(t, "POST", base+"/logout", "sid="+v); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := victim.send(t, "GET", open+"/me", "sid="+v); code != 200 {
		t.Fatalf("control: the upstream itself refused the logged-out session (%d); the test proves nothing", code)
	}
	pct := ""
	for i := 0; i < len(v); i++ {
		pct += "%" + strings.ToUpper(hexByte(v[i]))
	}
	for _, tc := range []struct {
		name    string
		cookies []string
	}{
		{"as sent", []string{"sid=" + v}},
		{"percent-encoded", []string{"sid=" + pct}},
		{"special chars encoded", []string{"sid=" + url.QueryEscape(v)}},
		{"quoted", []string{`sid="` + v + `"`}},
		{"plus as space", []string{"sid=" + strings.ReplaceAll(v, "+", " ")}},
		{"name upper case", []string{"SID=" + v}},
		{"name mixed case", []string{"Sid=" + v}},
		{"name percent-encoded", []string{"%73id=" + v}},
		{"behind another sid", []string{"sid=" + other + "; sid=" + v}},
		{"second Cookie header", []string{"theme=dark", "sid=" + v}},
		{"duplicated headers", []string{"sid=" + other, "sid=" + v}},
		{"after a comma", []string{"theme=dark, sid=" + v}},
		{"spaces around", []string{"theme=dark;   sid = " + v + " "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.me.Load()
			code, body := attacker.send(t, "GET", base+"/me", tc.cookies...)
			if code != 401 {
				t.Fatalf("replay = %d %q, want 401", code, body)
			}
			if up.me.Load() != before {
				t.Fatal("the replayed session reached the upstream")
			}
		})
	}
	if code, _ := victim.send(t, "GET", base+"/me", "sid="+other); code != 200 {
		t.Fatalf("a session that did not log out: %d, want 200", code)
	}
}

func hexByte(b byte) string { const h = "0123456789abcdef"; return string([]byte{h[b>>4], h[b&15]}) }

// TestAttackSessionCookieStolen: with bind: [ip, user_agent], the session
// cookie taken from the victim and presented from another network, or
// with another User-Agent, is refused before the upstream; the victim
// keeps using it; from the victim's own /24 with its User-Agent it passes
// (the documented limit of a /24 binding). With binding off the stolen
// cookie works. require_binding refuses a cookie the gateway never saw set.
// (That a later Set-Cookie cannot move a binding: TestMemoryBinder and
// the redisstore test.)
func TestAttackSessionCookieStolen(t *testing.T) {
	up := newSessionUpstream(t)
	bound := startSessionGateway(t, up, sessionsBase+"cookies:\n  sessions:\n    names: [sid]\n    bind: [ip, user_agent]\n")
	unbound := startSessionGateway(t, up, sessionsBase+"cookies:\n  sessions:\n    names: [sid]\n    logout_operations: [logout]\n")
	v := victim.login(t, bound)
	for _, tc := range []struct {
		name string
		c    client
		ck   string
		want int
	}{
		{"victim", victim, "sid=" + v, 200},
		{"other network, same User-Agent", attacker, "sid=" + v, 401},
		{"other network, quoted and encoded", attacker, `sid="` + url.QueryEscape(v) + `"`, 401},
		{"other network, name upper case", attacker, "SID=" + v, 401},
		{"same address, other User-Agent", client{victim.ip, "curl/8.0"}, "sid=" + v, 401},
		{"IPv6 client", client{"2001:db8::1", victim.ua}, "sid=" + v, 401},
		{"same /24, same User-Agent", client{"203.0.113.200", victim.ua}, "sid=" + v, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.me.Load()
			code, _ := tc.c.send(t, "GET", bound+"/me", tc.ck)
			if code != tc.want {
				t.Fatalf("GET /me = %d, want %d", code, tc.want)
			}
			if tc.want == 401 && up.me.Load() != before {
				t.Fatal("the stolen cookie reached the upstream")
			}
		})
	}
	t.Run("binding off", func(t *testing.T) {
		w := victim.login(t, unbound)
		if code, _ := attacker.send(t, "GET", unbound+"/me", "sid="+w); code != 200 {
			t.Fatalf("without bind the stolen cookie = %d, want 200", code)
		}
	})
	t.Run("require_binding", func(t *testing.T) {
		strict := startSessionGateway(t, up, sessionsBase+"cookies:\n  sessions:\n    names: [sid]\n    bind: [user_agent]\n    require_binding: true\n")
		w := victim.login(t, unbound) // set through another gateway: never seen here
		if code, _ := victim.send(t, "GET", strict+"/me", "sid="+w); code != 401 {
			t.Fatalf("unseen cookie with require_binding = %d, want 401", code)
		}
		x := victim.login(t, strict)
		if code, _ := victim.send(t, "GET", strict+"/me", "sid="+x); code != 200 {
			t.Fatalf("cookie set through this gateway = %d, want 200", code)
		}
	})
}

// TestSessionCookiesRedisAcrossInstances: two gateways sharing a real
// Redis (GATEHOUSE_TEST_REDIS) as authn.revocation.store: a logout through
// one refuses the cookie on the other, and a cookie bound through one is
// refused from another client on the other.
func TestSessionCookiesRedisAcrossInstances(t *testing.T) {
	rurl := testutil.RedisURL(t)
	up := newSessionUpstream(t)
	cfg := sessionsBase + "authn:\n  revocation: {store: \"" + rurl + "\"}\ncookies:\n  sessions:\n    names: [sid]\n    logout_operations: [logout]\n    bind: [ip]\n    max_ttl: 10m\n"
	a := startSessionGateway(t, up, cfg)
	b := startSessionGateway(t, up, cfg)
	v := victim.login(t, a)
	if code, _ := victim.send(t, "GET", b+"/me", "sid="+v); code != 200 {
		t.Fatalf("victim on B: %d", code)
	}
	if code, _ := attacker.send(t, "GET", b+"/me", "sid="+v); code != 401 {
		t.Fatalf("stolen cookie on B (bound through A) = %d, want 401", code)
	}
	w := victim.login(t, a)
	if code, _ := victim.send(t, "POST", b+"/logout", "sid="+w); code != 204 {
		t.Fatalf("logout on B: %d", code)
	}
	before := up.me.Load()
	for _, base := range []string{a, b} {
		if code, _ := victim.send(t, "GET", base+"/me", "SID=\""+url.QueryEscape(w)+"\""); code != 401 {
			t.Fatalf("replay after logout on %s = %d, want 401", base, code)
		}
	}
	if up.me.Load() != before {
		t.Fatal("a replay reached the upstream")
	}
}

// TestPresentedSessionValues: the pairs a lenient upstream would read.
func TestPresentedSessionValues(t *testing.T) {
	names := map[string]bool{"sid": true}
	for _, tc := range []struct {
		hs   []string
		want []string
	}{
		{[]string{"sid=a"}, []string{"a"}},
		{[]string{"theme=x; SID=b"}, []string{"b"}},
		{[]string{"sid=a", "Sid=b"}, []string{"a", "b"}},
		{[]string{"x=1, sid=c"}, []string{"c"}},
		{[]string{"%73%69%64=d"}, []string{"d"}},
		{[]string{"sidx=e; xsid=f; sid"}, nil},
		{[]string{" sid = g "}, []string{"g"}},
	} {
		got := presentedSessionValues(tc.hs, names)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("presentedSessionValues(%q) = %q, want %q", tc.hs, got, tc.want)
		}
	}
	// Every spelling of one value shares a key with the value itself.
	v := "s+ab/c=="
	keys := map[string]bool{}
	for _, k := range sessionKeys(v) {
		keys[k] = true
	}
	for _, s := range []string{`"` + v + `"`, url.QueryEscape(v), url.PathEscape(v), "s ab/c==", "%73%2b%61%62%2f%63%3d%3d"} {
		shared := false
		for _, k := range sessionKeys(s) {
			shared = shared || keys[k]
		}
		if !shared {
			t.Errorf("sessionKeys(%q) shares no key with %q", s, v)
		}
	}
	if k := sessionKeys("other"); keys[k[0]] {
		t.Error("another value shares a key")
	}
}

// FuzzPresentedSessionValues: whatever the Cookie header, parsing does not
// panic, stays bounded, and a "sid=V" pair appended after a ';' is always
// found.
func FuzzPresentedSessionValues(f *testing.F) {
	for _, s := range []string{"sid=a", "theme=x; SID=b", "x=1, sid=c", "%73%69%64=d", `sid="q"`, "sid=%zz", ";;,,=;"} {
		f.Add(s, "tok123")
	}
	names := map[string]bool{"sid": true}
	f.Fuzz(func(t *testing.T, h, v string) {
		if strings.ContainsAny(v, ";,\"%+=") || v == "" || strings.TrimSpace(v) != v {
			return
		}
		got := presentedSessionValues([]string{h + "; sid=" + v}, names)
		found := false
		for _, g := range got {
			found = found || g == v
		}
		if !found {
			t.Fatalf("sid=%q not found in %q: %q", v, h+"; sid="+v, got)
		}
		if len(got) > strings.Count(h, "=")*2+2 {
			t.Fatalf("more values than pairs: %d", len(got))
		}
		for _, g := range got {
			if len(sessionKeys(g)) > 4 {
				t.Fatal("more than 4 forms")
			}
		}
	})
}

// TestSessionCookiesStoreDown: with the Redis store unreachable (a closed
// port), a request carrying a session cookie is refused (401) under
// on_store_error: deny and passes under allow; requests without one pass
// either way.
func TestSessionCookiesStoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://" + ln.Addr().String() + "/0"
	ln.Close()
	up := newSessionUpstream(t)
	for _, tc := range []struct {
		mode string
		want int
	}{{"deny", 401}, {"allow", 401 /* the upstream's own answer: unknown session */}} {
		t.Run(tc.mode, func(t *testing.T) {
			base := startSessionGateway(t, up, sessionsBase+"authn:\n  revocation: {store: \""+dead+"\", on_store_error: "+tc.mode+"}\n"+
				"cookies:\n  sessions:\n    names: [sid]\n    logout_operations: [logout]\n")
			before := up.me.Load()
			code, _ := victim.send(t, "GET", base+"/me", "sid=whatever")
			reached := up.me.Load() - before
			if code != tc.want || (tc.mode == "deny") != (reached == 0) {
				t.Fatalf("with a cookie: %d, upstream reached %d times", code, reached)
			}
			if code, _ := victim.send(t, "GET", base+"/me"); code != 401 || up.me.Load() == before+reached {
				t.Fatalf("without a cookie: %d (must reach the upstream)", code)
			}
		})
	}
}

// failingRevoke is a memory store whose RevokeToken fails: a store that
// goes down between the check and the logout.
type failingRevoke struct{ *revocation.Memory }

func (failingRevoke) RevokeToken(context.Context, string, time.Time) error {
	return errors.New("store down")
}

// TestSessionLogoutRevocationFailure: when the revocation of a logout
// fails, the client gets 503 instead of the upstream's 2xx (and none of
// its Set-Cookie headers), so a logout never appears to succeed while the
// session stays usable.
func TestSessionLogoutRevocationFailure(t *testing.T) {
	s := &sessionCookies{names: map[string]bool{"sid": true}, logout: map[string]bool{"logout": true},
		store: failingRevoke{revocation.NewMemory(10, nil)}, maxTTL: time.Hour, now: time.Now,
		log: slog.New(slog.DiscardHandler), actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"action"})}
	h := s.tap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "sid=; Max-Age=0")
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		op   string
		want int
	}{{"logout", 503}, {"getMe", 204}} {
		req := httptest.NewRequest("POST", "/logout", nil)
		req.Header.Set("Cookie", "sid=abc")
		req = req.WithContext(gatehouse.WithRoute(gatehouse.NewRecordContext(req.Context(), &gatehouse.Record{}), &gatehouse.Route{OperationID: tc.op}))
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.op, rr.Code, tc.want)
		}
		if tc.want == 503 && rr.Header().Get("Set-Cookie") != "" {
			t.Fatal("the upstream's Set-Cookie passed with the 503")
		}
	}
}

// BenchmarkSessionCookieCheck is the per-request cost of the check with
// the memory store: a Cookie header with the session cookie among two
// others, revocation only and with binding (ip + user_agent) on.
func BenchmarkSessionCookieCheck(b *testing.B) {
	for _, bind := range []bool{false, true} {
		name := "revocation"
		if bind {
			name = "revocation+binding"
		}
		b.Run(name, func(b *testing.B) {
			m := revocation.NewMemory(1000, nil)
			s := &sessionCookies{names: map[string]bool{"sid": true}, store: m, v4: 24, v6: 64, maxTTL: time.Hour, now: time.Now}
			if bind {
				s.binder, s.bindIP, s.bindUA = m, true, true
			}
			req := httptest.NewRequest("GET", "/me", nil)
			req.RemoteAddr = "203.0.113.7:5555"
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0")
			req.Header.Set("Cookie", "theme=dark; sid=s+Zm9vYmFyYmF6cXV4cXV1eA/x; lang=en")
			if bind {
				for _, k := range sessionKeys("s+Zm9vYmFyYmF6cXV4cXV1eA/x") {
					_, _ = m.Bind(context.Background(), k, s.fingerprint(req), time.Now().Add(time.Hour))
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if reason, err := s.Check(context.Background(), req); reason != "" || err != nil {
					b.Fatal(reason, err)
				}
			}
		})
	}
}
