package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/internal/config"
)

const tracingAPIKey = "topsecret-apikey-0123456789abcdef"

// tracingConfig is a gateway with API-key authn, a rate limit, request
// validation and the response filter on, so every stage has a span.
func tracingConfig(upstream, tracing string) string {
	return fmt.Sprintf(`listen: "127.0.0.1:0"
upstream: %q
spec: spec.yaml
authn:
  api_keys: { file: keys.yaml }
authz:
  default: authenticated
rate_limits:
  store: memory
  limits:
    - { name: per-ip, key: ip, rate: "100000/s", burst: 100000 }
%s`, upstream, tracing)
}

type tracedGW struct {
	url string
	up  *upstream
	rec *tracetest.SpanRecorder
	p   *Pipeline
}

// startTraced builds a pipeline from tracingConfig with tp (nil: an
// in-memory SpanRecorder, always sampling) and serves it over 127.0.0.1.
func startTraced(t *testing.T, tracing string, tp trace.TracerProvider) *tracedGW {
	t.Helper()
	g := &tracedGW{up: newUpstream(t)}
	if tp == nil {
		g.rec = tracetest.NewSpanRecorder()
		tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(g.rec))
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), testSpec)
	sum := sha256.Sum256([]byte(tracingAPIKey))
	writeFile(t, filepath.Join(dir, "keys.yaml"), "- {hash: \"sha256:"+hex.EncodeToString(sum[:])+"\", subject: key-user}\n")
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, cfgPath, tracingConfig(g.up.URL, tracing))
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g.p, err = Build(context.Background(), cfg, Deps{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.p)
	g.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		_ = g.p.Close()
	})
	return g
}

func (g *tracedGW) get(t *testing.T, path string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("GET", g.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// getMulti is get with dup sent as one Traceparent field each when it
// holds more than one value.
func (g *tracedGW) getMulti(t *testing.T, path string, hdr map[string]string, dup []string) int {
	t.Helper()
	req, err := http.NewRequest("GET", g.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if len(dup) > 1 {
		req.Header["Traceparent"] = dup
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// tree returns the server span and its children by name; it fails when
// a span is not in the server span's trace or not its direct child.
func tree(t *testing.T, spans []sdktrace.ReadOnlySpan) (sdktrace.ReadOnlySpan, map[string]sdktrace.ReadOnlySpan) {
	t.Helper()
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			if root != nil {
				t.Fatalf("two server spans: %q and %q", root.Name(), s.Name())
			}
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no server span among %d", len(spans))
	}
	kids := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s == root {
			continue
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %q in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), root.SpanContext().TraceID())
		}
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("span %q has parent %s, want the server span %s", s.Name(), s.Parent().SpanID(), root.SpanContext().SpanID())
		}
		if _, dup := kids[s.Name()]; dup {
			t.Errorf("two %q spans", s.Name())
		}
		kids[s.Name()] = s
	}
	return root, kids
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func names(m map[string]sdktrace.ReadOnlySpan) string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sortStrings(out)
	return strings.Join(out, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestTracingAllowedRequest(t *testing.T) {
	g := startTraced(t, "tracing: { enabled: true, endpoint: \"https://collector.invalid\" }\n", nil)
	if code := g.get(t, "/users/7", map[string]string{"X-API-Key": tracingAPIKey}); code != 200 {
		t.Fatalf("status %d, want 200", code)
	}
	root, kids := tree(t, g.rec.Ended())
	if got, want := names(kids), "GET,authn,authz,rate_limit,response,route,validation"; got != want {
		t.Fatalf("child spans %s, want %s", got, want)
	}
	if root.Name() != "GET /users/{user_id}" {
		t.Errorf("server span name %q", root.Name())
	}
	if root.Parent().IsValid() {
		t.Errorf("server span has a parent %v without an incoming traceparent", root.Parent())
	}
	a := attrs(root)
	for k, want := range map[attribute.Key]attribute.Value{
		"http.request.method":       attribute.StringValue("GET"),
		"http.route":                attribute.StringValue("/users/{user_id}"),
		"http.response.status_code": attribute.IntValue(200),
		"gatehouse.operation_id":    attribute.StringValue("getUser"),
	} {
		if a[k] != want {
			t.Errorf("server span %s = %v, want %v", k, a[k].String(), want.String())
		}
	}
	if _, ok := a["gatehouse.blocked.stage"]; ok {
		t.Errorf("allowed request carries gatehouse.blocked.stage = %v", a["gatehouse.blocked.stage"].String())
	}
	upSpan := kids["GET"]
	if upSpan.SpanKind() != trace.SpanKindClient {
		t.Errorf("upstream span kind %v, want client", upSpan.SpanKind())
	}
	if got := attrs(upSpan)["http.response.status_code"]; got != attribute.IntValue(200) {
		t.Errorf("upstream span status %v", got.String())
	}
	// Stage spans are siblings in request order, each ending before the
	// next starts; the response span follows the upstream call.
	order := []string{"route", "authn", "rate_limit", "authz", "validation", "GET", "response"}
	for i := 1; i < len(order); i++ {
		prev, cur := kids[order[i-1]], kids[order[i]]
		if order[i] == "response" {
			if cur.StartTime().Before(prev.EndTime()) {
				t.Errorf("response span starts before the upstream span ended")
			}
			continue
		}
		if cur.StartTime().Before(prev.EndTime()) {
			t.Errorf("%s span starts before %s ended", order[i], order[i-1])
		}
	}
	// W3C trace context reaches the upstream: the gateway's trace, the
	// upstream span as parent.
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
		propagation.HeaderCarrier(g.up.lastReq().Header)))
	if sc.TraceID() != root.SpanContext().TraceID() || sc.SpanID() != upSpan.SpanContext().SpanID() || !sc.IsSampled() {
		t.Errorf("upstream traceparent %q: trace %s span %s, want %s %s sampled",
			g.up.lastReq().Header.Get("Traceparent"), sc.TraceID(), sc.SpanID(), root.SpanContext().TraceID(), upSpan.SpanContext().SpanID())
	}
}

func TestTracingBlockedAtAuthn(t *testing.T) {
	g := startTraced(t, "tracing: { enabled: true, endpoint: \"https://collector.invalid\" }\n", nil)
	for _, tc := range []struct{ name, key, stage, spans string }{
		// A wrong key fails authentication itself; no key is anonymous,
		// which authz (default: authenticated) refuses.
		{"wrong key", "topsecret-wrong-key", "authn", "authn,route"},
		{"no key", "", "authz", "authn,authz,rate_limit,route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.rec.Reset()
			before := g.up.requests.Load()
			hdr := map[string]string{}
			if tc.key != "" {
				hdr["X-API-Key"] = tc.key
			}
			if code := g.get(t, "/users/7", hdr); code != 401 {
				t.Fatalf("status %d, want 401", code)
			}
			if n := g.up.requests.Load() - before; n != 0 {
				t.Fatalf("upstream got %d requests", n)
			}
			root, kids := tree(t, g.rec.Ended())
			if got := names(kids); got != tc.spans {
				t.Fatalf("child spans %s, want %s (no upstream span)", got, tc.spans)
			}
			for n, s := range kids {
				got := attrs(s)["gatehouse.blocked"]
				if n == tc.stage && got != attribute.BoolValue(true) {
					t.Errorf("%s span gatehouse.blocked = %v, want true", n, got.String())
				}
				if n != tc.stage && got.Type() != attribute.EMPTY {
					t.Errorf("%s span gatehouse.blocked = %v, want absent", n, got.String())
				}
			}
			a := attrs(root)
			if a["gatehouse.blocked.stage"] != attribute.StringValue(tc.stage) || a["http.response.status_code"] != attribute.IntValue(401) {
				t.Errorf("server span: blocked.stage %v status %v, want %s 401",
					a["gatehouse.blocked.stage"].String(), a["http.response.status_code"].String(), tc.stage)
			}
			if r := a["gatehouse.blocked.reason"].AsString(); r == "" || strings.Contains(r, "topsecret") {
				t.Errorf("blocked.reason %q", r)
			}
		})
	}
}

// TestTracingIncomingTraceparent: an untrusted client cannot choose the
// gateway's trace id (its context is only linked, its tracestate dropped);
// a trusted one is adopted; malformed values are never adopted.
func TestTracingIncomingTraceparent(t *testing.T) {
	const (
		tid = "4bf92f3577b34da6a3ce929d0e0e4736"
		sid = "00f067aa0ba902b7"
	)
	good := "00-" + tid + "-" + sid + "-01"
	for _, tc := range []struct {
		name   string
		trust  bool
		tp     string
		adopt  bool // the server span is a child of tp
		linked bool // tp is a link of the server span
	}{
		{"untrusted", false, good, false, true},
		{"untrusted unsampled", false, "00-" + tid + "-" + sid + "-00", false, true},
		{"trusted", true, good, true, false},
		{"trusted zero trace id", true, "00-00000000000000000000000000000000-" + sid + "-01", false, false},
		{"trusted zero span id", true, "00-" + tid + "-0000000000000000-01", false, false},
		{"trusted version ff", true, "ff-" + tid + "-" + sid + "-01", false, false},
		{"trusted upper case", true, "00-" + strings.ToUpper(tid) + "-" + sid + "-01", false, false},
		{"trusted short", true, "00-" + tid[:30] + "-" + sid + "-01", false, false},
		{"trusted extra field v00", true, good + "-zz", false, false},
		{"trusted repeated", true, good + "\x00dup", false, false}, // sent as two Traceparent fields
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startTraced(t, fmt.Sprintf("tracing: { enabled: true, endpoint: \"https://collector.invalid\", trust_incoming: %v }\n", tc.trust), nil)
			hdr := map[string]string{"X-API-Key": tracingAPIKey, "Tracestate": "attacker=topsecret-state"}
			tps := strings.Split(tc.tp, "\x00")
			if len(tps) == 1 {
				hdr["Traceparent"] = tc.tp
			}
			code := g.getMulti(t, "/users/7", hdr, tps)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			root, _ := tree(t, g.rec.Ended())
			gotTID := root.SpanContext().TraceID().String()
			if tc.adopt {
				if gotTID != tid || root.Parent().SpanID().String() != sid || !root.Parent().IsRemote() {
					t.Errorf("trusted traceparent not adopted: trace %s parent %s", gotTID, root.Parent().SpanID())
				}
			} else {
				if gotTID == tid || root.Parent().IsValid() {
					t.Errorf("traceparent %q adopted: trace %s parent %v", tc.tp, gotTID, root.Parent())
				}
			}
			links := root.Links()
			if tc.linked {
				if len(links) != 1 || links[0].SpanContext.TraceID().String() != tid || links[0].SpanContext.SpanID().String() != sid {
					t.Errorf("links %v, want the incoming %s/%s", links, tid, sid)
				}
			} else if len(links) != 0 {
				t.Errorf("unexpected links %v", links)
			}
			h := g.up.lastReq().Header
			if got := h.Values("Traceparent"); len(got) != 1 || !strings.HasPrefix(got[0], "00-"+gotTID+"-") {
				t.Errorf("upstream traceparent %q, want the gateway's trace %s", got, gotTID)
			}
			ts := h.Get("Tracestate")
			if tc.adopt != (ts == "attacker=topsecret-state") {
				t.Errorf("upstream tracestate %q (adopted %v)", ts, tc.adopt)
			}
		})
	}
}

// TestTracingClientCannotForceSampling: with sample_ratio 0 an untrusted
// client's sampled flag records nothing (it would let a client make the
// gateway export every request it sends); a trusted edge's flag is followed.
func TestTracingClientCannotForceSampling(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trust=", trust), func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
				sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))))
			g := startTraced(t, fmt.Sprintf("tracing: { enabled: true, endpoint: \"https://collector.invalid\", sample_ratio: 0, trust_incoming: %v }\n", trust), tp)
			code := g.get(t, "/users/7", map[string]string{"X-API-Key": tracingAPIKey,
				"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			n := len(rec.Ended())
			if trust && n == 0 {
				t.Error("trusted sampled traceparent: no span recorded")
			}
			if !trust && n != 0 {
				t.Errorf("untrusted client forced sampling: %d spans recorded", n)
			}
			// Unsampled or not, the upstream gets the gateway's context.
			if tp := g.up.lastReq().Header.Get("Traceparent"); trust != strings.HasSuffix(tp, "-01") {
				t.Errorf("upstream traceparent %q", tp)
			}
		})
	}
}

// TestTracingNoSecretsInAttributes sends credentials, cookies, a secret
// path value, query and body and checks that no span attribute, link,
// event or resource attribute carries any of them.
func TestTracingNoSecretsInAttributes(t *testing.T) {
	g := startTraced(t, "tracing: { enabled: true, endpoint: \"https://collector.invalid\" }\n", nil)
	hdr := map[string]string{"X-API-Key": tracingAPIKey, "Authorization": "Bearer topsecret-token",
		"Cookie": "session=topsecret-cookie", "User-Agent": "topsecret-agent", "X-Request-Id": "rid-1"}
	g.get(t, "/users/topsecret-path", hdr)
	g.get(t, "/users/7?token=topsecret-query", hdr)
	delete(hdr, "X-API-Key")
	g.get(t, "/users/7", hdr)
	req, _ := http.NewRequest("POST", g.url+"/users", strings.NewReader(`{"password":"topsecret-body"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", tracingAPIKey)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	spans := g.rec.Ended()
	if len(spans) < 8 {
		t.Fatalf("only %d spans", len(spans))
	}
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			if v := kv.Value.String(); strings.Contains(v, "topsecret") {
				t.Errorf("%s: attribute %s = %q carries a secret", where, kv.Key, v)
			}
			switch kv.Key {
			case "url.full", "url.query", "url.path", "user_agent.original", "http.request.header.authorization", "http.request.header.cookie":
				t.Errorf("%s: attribute %s recorded", where, kv.Key)
			}
		}
	}
	for _, s := range spans {
		if strings.Contains(s.Name(), "topsecret") {
			t.Errorf("span name %q", s.Name())
		}
		check(s.Name(), s.Attributes())
		check(s.Name()+" resource", s.Resource().Attributes())
		for _, l := range s.Links() {
			check(s.Name()+" link", l.Attributes)
		}
		for _, e := range s.Events() {
			check(s.Name()+" event", e.Attributes)
		}
	}
}

// TestTracingOffUnchanged: tracing.enabled false builds no wrapper even
// with a provider at hand, and the client's trace headers pass as before.
func TestTracingOffUnchanged(t *testing.T) {
	g := startTraced(t, "", nil)
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if code := g.get(t, "/users/7", map[string]string{"X-API-Key": tracingAPIKey, "Traceparent": tp}); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := len(g.rec.Ended()); n != 0 {
		t.Errorf("%d spans with tracing off", n)
	}
	if got := g.up.lastReq().Header.Get("Traceparent"); got != tp {
		t.Errorf("upstream traceparent %q, want the client's %q", got, tp)
	}
}

// TestTracingOTLPExport proves the export path: a real OTLP/HTTP receiver
// on loopback decodes the protobuf the exporter sends when the pipeline
// closes (its queue is flushed), with the configured headers.
func TestTracingOTLPExport(t *testing.T) {
	t.Setenv("GH_TEST_OTLP_TOKEN", "Bearer otlp-test-token")
	var (
		mu    sync.Mutex
		got   []*coltracepb.ExportTraceServiceRequest
		auths []string
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", 400)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		got = append(got, &req)
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer rcv.Close()
	g := &tracedGW{up: newUpstream(t)}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "spec.yaml"), testSpec)
	sum := sha256.Sum256([]byte(tracingAPIKey))
	writeFile(t, filepath.Join(dir, "keys.yaml"), "- {hash: \"sha256:"+hex.EncodeToString(sum[:])+"\", subject: key-user}\n")
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, cfgPath, tracingConfig(g.up.URL, fmt.Sprintf(`tracing:
  enabled: true
  endpoint: %q
  insecure: true
  service_name: gh-test
  headers: { authorization: "${GH_TEST_OTLP_TOKEN}" }
`, rcv.URL)))
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	req, _ := http.NewRequest("GET", srv.URL+"/users/7", nil)
	req.Header.Set("X-API-Key", tracingAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	srv.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if err := p.Close(); err != nil { // flushes the batch to the receiver
		t.Fatal(err)
	}
	upTP := g.up.lastReq().Header.Get("Traceparent")
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("receiver got no export")
	}
	for _, a := range auths {
		if a != "Bearer otlp-test-token" {
			t.Errorf("export Authorization %q, want the configured header", a)
		}
	}
	var server, spanNames []string
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			svc := ""
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					svc = kv.Value.GetStringValue()
				}
			}
			if svc != "gh-test" {
				t.Errorf("service.name %q, want gh-test", svc)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spanNames = append(spanNames, s.Name)
					if s.Kind == 2 { // SPAN_KIND_SERVER
						server = append(server, s.Name)
						if want := hex.EncodeToString(s.TraceId); !strings.HasPrefix(upTP, "00-"+want+"-") {
							t.Errorf("exported trace %s, upstream traceparent %q", want, upTP)
						}
					}
				}
			}
		}
	}
	if len(server) != 1 || server[0] != "GET /users/{user_id}" {
		t.Errorf("exported server spans %q", server)
	}
	if len(spanNames) != 8 {
		t.Errorf("exported %d spans %q, want 8 (server, 6 stages, upstream)", len(spanNames), spanNames)
	}
}

// TestTracingReload: tracing settings follow a reload through the Server.
// Each pipeline owns its exporter; the replaced pipeline's spans are
// flushed to the collector when it closes, under its own service.name; a
// reload to tracing off stops the spans and the gateway's traceparent.
func TestTracingReload(t *testing.T) {
	services := make(chan string, 64)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					services <- kv.Value.GetStringValue()
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer rcv.Close()
	section := func(svc string) string {
		return fmt.Sprintf("tracing: { enabled: true, endpoint: %q, insecure: true, service_name: %s }\n", rcv.URL, svc)
	}
	e := start(t, section("svc-a"))
	await := func(want string) {
		t.Helper()
		for {
			select {
			case got := <-services:
				if got == want {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no export from %s", want)
			}
		}
	}
	reload := func(extra string) {
		t.Helper()
		writeFile(t, e.cfgPath, configYAML(e.up.URL, extra))
		res, err := http.Post(e.admin+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		select {
		case err := <-e.reloaded:
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reload")
		}
	}
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	get := func() string {
		t.Helper()
		if res, _ := e.do("GET", "/users/1", map[string]string{"Traceparent": tp}, nil); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		return e.up.lastReq().Header.Get("Traceparent")
	}
	if got := get(); got == tp || got == "" {
		t.Fatalf("svc-a: upstream traceparent %q", got)
	}
	reload(section("svc-b"))
	await("svc-a") // flushed when the svc-a pipeline closed
	if got := get(); got == tp || got == "" {
		t.Fatalf("svc-b: upstream traceparent %q", got)
	}
	reload("")
	await("svc-b")
	if got := get(); got != tp {
		t.Errorf("tracing off after reload: upstream traceparent %q, want the client's", got)
	}
}
