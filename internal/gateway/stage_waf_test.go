package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
)

const wafSpec = `openapi: 3.1.0
info: {title: notes, version: "1"}
paths:
  /notes:
    post:
      operationId: createNote
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses: {"201": {description: ok}}
  /search:
    get:
      operationId: search
      parameters:
        - {name: q, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
  /docs:
    get:
      operationId: searchDocs
      parameters:
        - {name: q, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
  /avatar:
    post:
      operationId: uploadAvatar
      requestBody:
        content:
          application/json:
            schema: {type: object}
      responses: {"204": {description: ok}}
  /legacy:
    get:
      operationId: legacySearch
      parameters:
        - {name: q, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
  /users/{id}:
    patch:
      operationId: patchUser
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      requestBody:
        content:
          application/merge-patch+json:
            schema: {type: object}
      responses: {"200": {description: ok}}
`

// wafExtraRules is loaded through waf.rules; it shows the CRS sees the
// client address resolved through trusted_proxies.
const wafExtraRules = `SecRule REMOTE_ADDR "@ipMatch 203.0.113.7" "id:10001,phase:1,deny,status:403,log,msg:'denied client'"
`

const wafConfig = `listen: "127.0.0.1:0"
upstream: %UP%
spec: spec.yaml
trusted_proxies: ["127.0.0.1/32"]
authz:
  default: public
limits:
  max_body: 4KiB
request:
  validate: false
response:
  mode: "off"
routes:
  legacySearch: {mode: monitor}
waf:
  enabled: true
  rules: [extra.conf]
  operations:
    uploadAvatar: {enabled: false}
    searchDocs: {exclude_rules: [941100, 941110, 941160, 941180, 941390]}
`

// wafGateway builds the real pipeline from YAML files and serves it on loopback.
func wafGateway(t testing.TB, upURL, cfgYAML string) (*httptest.Server, *prometheus.Registry, *syncBuf, <-chan string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"spec.yaml":      wafSpec,
		"extra.conf":     wafExtraRules,
		"gatehouse.yaml": strings.Replace(cfgYAML, "%UP%", `"`+upURL+`"`, 1),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Check(filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	reg := prometheus.NewRegistry()
	logs := &syncBuf{}
	p, err := Build(context.Background(), cfg, Deps{Registry: reg, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	done := make(chan string, 256)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(w, r)
		select {
		case done <- w.Header().Get("X-Request-Id"):
		default: // benchmarks do not read it
		}
	}))
	t.Cleanup(func() {
		gw.Close()
		p.Close()
	})
	return gw, reg, logs, done
}

// accessLine returns the access-log record of the request with the given
// ID, after waiting for that request's handler to have returned (the log
// line is written after the response reached the client).
func accessLine(t *testing.T, logs *syncBuf, done <-chan string, id string) map[string]any {
	t.Helper()
	for got := range done {
		if got == id {
			break
		}
	}
	for _, m := range logs.lines("request") {
		if m["request_id"] == id {
			return m
		}
	}
	t.Fatalf("no access log line for request %s", id)
	return nil
}

// TestWAFStageEndToEnd drives the real pipeline over loopback: the CRS
// blocks attacks in query and JSON body with a generic 403 before the
// upstream sees them; per-operation disable and exclusions, route monitor
// mode, spec-declared media types and the trusted-proxy client address
// all take effect; the access log and metrics carry the decision.
func TestWAFStageEndToEnd(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	gw, reg, logs, done := wafGateway(t, upSrv.URL, wafConfig)

	sqli := url.QueryEscape("1' UNION SELECT password FROM users--")
	xss := url.QueryEscape("<script>alert(document.cookie)</script>")
	for _, tc := range []struct {
		name, method, target, ct, body, xff string
		want                                int
		forwarded                           bool
		stage, reason, monitored            string
	}{
		{"sqli in query", "GET", "/search?q=" + sqli, "", "", "", 403, false, "waf", "anomaly", ""},
		{"xss in query", "GET", "/search?q=" + xss, "", "", "", 403, false, "waf", "anomaly", ""},
		{"sqli in json body", "POST", "/notes", "application/json", `{"text":"1' UNION SELECT password FROM users--"}`, "", 403, false, "waf", "anomaly", ""},
		{"sqli unicode-escaped in json", "POST", "/notes", "application/json", `{"text":"1\u0027 UNION SELECT password FROM users--"}`, "", 403, false, "waf", "anomaly", ""},
		{"traversal in query", "GET", "/search?q=..%2F..%2F..%2Fetc%2Fpasswd", "", "", "", 403, false, "waf", "anomaly", ""},
		{"benign apostrophes", "POST", "/notes", "application/json", `{"text":"Seán O'Brien & d'Artagnan's note: select the best wine."}`, "", 200, true, "", "", ""},
		{"benign query", "GET", "/search?q=O%27Reilly+books", "", "", "", 200, true, "", "", ""},
		{"spec media type allowed (PATCH merge-patch+json)", "PATCH", "/users/7", "application/merge-patch+json", `{"nickname":"Rock 'n' Roll"}`, "", 200, true, "", "", ""},
		{"waf disabled for operation", "POST", "/avatar", "application/json", `{"alt":"1' UNION SELECT password FROM users--"}`, "", 204, true, "", "", ""},
		{"excluded xss rules for operation", "GET", "/docs?q=" + xss, "", "", "", 200, true, "", "", ""},
		{"exclusions are per operation (sqli still blocked)", "GET", "/docs?q=" + sqli, "", "", "", 403, false, "waf", "anomaly", ""},
		{"route monitor mode lets through and records", "GET", "/legacy?q=" + sqli, "", "", "", 200, true, "", "", "waf: anomaly"},
		{"client ip via trusted proxy reaches the rules", "GET", "/search?q=hello", "", "", "203.0.113.7", 403, false, "waf", "rule", ""},
		{"other client ip passes", "GET", "/search?q=hello", "", "", "198.51.100.1", 200, true, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, gw.URL+tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			resp, err := gw.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.want == 204 && resp.StatusCode == 200 {
				resp.StatusCode = 204 // the recording upstream answers 200 to everything
			}
			hits := up.take()
			if resp.StatusCode != tc.want || (len(hits) == 1) != tc.forwarded {
				t.Fatalf("%s %s = %d (forwarded %v), want %d (forwarded %v); body %s", tc.method, tc.target,
					resp.StatusCode, hits, tc.want, tc.forwarded, b)
			}
			if tc.forwarded && tc.body != "" && !strings.HasSuffix(hits[0], " "+tc.body) {
				t.Errorf("upstream got %q, want the body unchanged", hits[0])
			}
			id := resp.Header.Get("X-Request-Id")
			line := accessLine(t, logs, done, id)
			if line["stage"] != tc.stage || line["reason"] != tc.reason {
				t.Errorf("access log stage/reason = %v/%v, want %q/%q", line["stage"], line["reason"], tc.stage, tc.reason)
			}
			mon, _ := line["monitored"].([]any)
			if tc.monitored != "" && (len(mon) != 1 || mon[0] != tc.monitored) {
				t.Errorf("access log monitored = %v, want [%s]", mon, tc.monitored)
			}
			if tc.stage == "waf" || tc.monitored != "" {
				attrs, _ := line["attrs"].(map[string]any)
				if attrs["waf_rules"] == nil || attrs["waf_rules"] == "" {
					t.Errorf("access log attrs = %v, want waf_rules", attrs)
				}
				if tc.stage == "waf" {
					pd := problemOf(t, string(b))
					if pd.Status != 403 {
						t.Errorf("problem status %d", pd.Status)
					}
					// The request ID is random hex and may contain "942" by
					// chance: look for leaks in the rest of the body.
					rest := strings.Replace(string(b), pd.RequestID, "", 1)
					for _, leak := range []string{"942", "949", "UNION", "SQL", "Anomaly", "10001"} {
						if strings.Contains(rest, leak) {
							t.Errorf("response body leaks %q: %s", leak, b)
						}
					}
				}
			}
		})
	}

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_waf_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var op, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "operation":
					op = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			got[op+"/"+outcome] = m.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{"search/blocked": 4, "search/pass": 2, "createNote/blocked": 2,
		"uploadAvatar/skipped": 1, "legacySearch/monitored": 1, "searchDocs/pass": 1, "searchDocs/blocked": 1} {
		if got[k] != want {
			t.Errorf("gatehouse_waf_decisions_total{%s} = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
}

// TestWAFStageBodyLimit: a chunked body over limits.max_body is refused
// with 413 by the WAF (it cannot be inspected whole) and never forwarded.
func TestWAFStageBodyLimit(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	gw, _, logs, done := wafGateway(t, upSrv.URL, wafConfig)
	body := `{"text":"` + strings.Repeat("a", 8<<10) + `"}`
	req, _ := http.NewRequest("POST", gw.URL+"/notes", io.MultiReader(strings.NewReader(body))) // unknown length: chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || len(up.take()) != 0 {
		t.Fatalf("oversize chunked body: status %d, want 413 and nothing forwarded", resp.StatusCode)
	}
	line := accessLine(t, logs, done, resp.Header.Get("X-Request-Id"))
	if line["stage"] != "waf" || line["reason"] != "body_too_large" {
		t.Errorf("access log stage/reason = %v/%v, want waf/body_too_large", line["stage"], line["reason"])
	}
}

// TestWAFStageOff: the default config builds no WAF stage at all (nil
// middleware: no cost), and an attack string then reaches the next stage.
func TestWAFStageOff(t *testing.T) {
	var cfg config.Config
	b := &builder{cfg: &cfg}
	mw, err := b.buildWAF(context.Background())
	if mw != nil || err != nil {
		t.Fatalf("buildWAF with waf off = %v, %v; want nil, nil", mw != nil, err)
	}
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	gw, reg, _, _ := wafGateway(t, upSrv.URL, strings.Replace(wafConfig, "  enabled: true\n", "  enabled: false\n", 1))
	resp, err := gw.Client().Get(gw.URL + "/search?q=" + url.QueryEscape("1' UNION SELECT password FROM users--"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(up.take()) != 1 {
		t.Fatalf("waf off: status %d, want the request forwarded (request validation is off in this config)", resp.StatusCode)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "gatehouse_waf_decisions_total" {
			t.Errorf("waf off registered %s", mf.GetName())
		}
	}
}

// TestWAFStageBuildErrors: config problems the spec or the rule files
// reveal fail Build at the right key.
func TestWAFStageBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown operation", "    uploadAvatar: {enabled: false}\n", "    uploadAvatr: {enabled: false}\n", "waf.operations.uploadAvatr"},
		{"broken rules file", "  rules: [extra.conf]\n", "  rules: [spec.yaml]\n", "waf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range map[string]string{"spec.yaml": wafSpec, "extra.conf": wafExtraRules,
				"gatehouse.yaml": strings.Replace(strings.Replace(wafConfig, "%UP%", `"http://127.0.0.1:1"`, 1), tc.from, tc.to, 1)} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := config.Check(filepath.Join(dir, "gatehouse.yaml"))
			if err != nil {
				t.Fatalf("config.Check: %v", err)
			}
			_, err = Build(context.Background(), cfg, Deps{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one at %s", err, tc.want)
			}
			var pe *config.PathError
			if !errors.As(err, &pe) {
				t.Errorf("Build error %v is not a config.PathError", err)
			}
		})
	}
}

// wafCPUTime is the process's user+system CPU time (the shared CI machine
// is loaded: wall-clock ns/op mostly measures waiting).
func wafCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWAFGateway compares the whole gateway (loopback client, real
// proxy, upstream) with the WAF off and on (PL1, bodies inspected) for a
// typical GET with a query and a 1 KiB JSON POST, in the same run. Compare
// ns/op, cpu-ns/op (gateway + client + upstream, one process) and
// allocs/op of off and on; on/off is the WAF's cost.
//
//	go test -run '^$' -bench BenchmarkWAFGateway -benchmem -benchtime=300x ./internal/gateway
func BenchmarkWAFGateway(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	defer up.Close()
	var body strings.Builder
	body.WriteString(`{"title":"Order notes","customer":{"name":"Ann O'Brien","email":"ann@example.com"},"items":[`)
	for i := 0; body.Len() < 950; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"sku":"SKU-10042","qty":2}`)
	}
	body.WriteString(`],"text":"Leave it at the door."}`)
	jb := body.String()
	for _, mode := range []string{"off", "on"} {
		cfg := wafConfig
		if mode == "off" {
			cfg = strings.Replace(cfg, "  enabled: true\n", "  enabled: false\n", 1)
		}
		gw, _, _, _ := wafGateway(b, up.URL, cfg)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		run := func(b *testing.B, newReq func() *http.Request) {
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.ResetTimer()
			c := wafCPUTime()
			for i := 0; i < b.N; i++ {
				res, err := client.Do(newReq())
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			b.ReportMetric(float64(wafCPUTime()-c)/float64(b.N), "cpu-ns/op")
		}
		b.Run("waf="+mode+"/GET query", func(b *testing.B) {
			run(b, func() *http.Request {
				r, _ := http.NewRequest("GET", gw.URL+"/search?q=shipped+orders&customer=ann%40example.com&limit=20", nil)
				return r
			})
		})
		b.Run("waf="+mode+"/POST 1KiB JSON", func(b *testing.B) {
			run(b, func() *http.Request {
				r, _ := http.NewRequest("POST", gw.URL+"/notes", strings.NewReader(jb))
				r.Header.Set("Content-Type", "application/json")
				return r
			})
		})
	}
}

// TestWAFPathSegment: with the WAF on and request validation off (so only
// the WAF stands in the way), SQL injection in a path segment is blocked
// like in a query value. The CRS reads a path only through
// REQUEST_FILENAME; the stage hands it the router's decoded path
// parameters as ARGS_PATH. These payloads passed before that.
func TestWAFPathSegment(t *testing.T) {
	up := &recordingUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	gw, _, _, _ := wafGateway(t, upSrv.URL, wafConfig)
	for _, p := range []string{
		"admin' or '1'='1'--",
		`" or 1=1--`,
		" UNION ALL SELECT NULL ",
		"') waitfor delay '0:0:20' --",
		"' OR '' = '",
	} {
		target := "/users/" + url.PathEscape(p)
		req, err := http.NewRequest("PATCH", gw.URL+target, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if hits := up.take(); resp.StatusCode != http.StatusForbidden || len(hits) != 0 {
			t.Errorf("PATCH %s = %d, forwarded %q; want 403, not forwarded", target, resp.StatusCode, hits)
		}
		for _, leak := range []string{"UNION", "waitfor", "1=1", "SQL"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("PATCH %s: body leaks %q: %s", target, leak, b)
			}
		}
	}
	for _, id := range []string{"O'Brien", "select-chair", "42"} {
		target := "/users/" + url.PathEscape(id)
		req, _ := http.NewRequest("PATCH", gw.URL+target, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if hits := up.take(); resp.StatusCode != http.StatusOK || len(hits) != 1 {
			t.Errorf("PATCH %s = %d, forwarded %q; want 200 and forwarded", target, resp.StatusCode, hits)
		}
	}
}
