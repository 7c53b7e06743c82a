package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

const mismatchSpec = `openapi: 3.0.3
info: { title: leak, version: "1" }
paths:
  /users/{id}:
    get:
      operationId: getUser
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { type: object, properties: { id: { type: string }, name: { type: string } } }
        "401": { description: not logged in, content: { application/problem+json: { schema: { type: object } } } }
  /list:
    get:
      operationId: listUsers
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { type: array, items: { type: object, properties: { id: { type: string } } } }
  /report:
    get:
      operationId: report
      responses:
        "200": { description: ok, content: { text/csv: { schema: { type: string } } } }
`

const leakJSON = `{"id":"1","name":"a","password_hash":"$2b$10$secrethash","internal_note":"vip"}`

// leakyUpstream answers /users/{id} in the way id names: the attacks of a
// handler that writes JSON without labelling it as declared.
func leakyUpstream(t *testing.T) string {
	t.Helper()
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/users/textplain":
			h.Set("Content-Type", "text/plain; charset=utf-8")
		case "/users/notype":
			h["Content-Type"] = nil // net/http must not sniff one in
		case "/users/utf16":
			h.Set("Content-Type", "application/json; charset=utf-16")
		case "/users/s299", "/users/s207":
			h.Set("Content-Type", "application/json")
			w.WriteHeader(map[string]int{"/users/s299": 299, "/users/s207": 207}[r.URL.Path])
		case "/users/e401", "/users/e409", "/users/e418":
			// An error labelled differently from the contract, or with a
			// status it does not declare, still carrying data.
			h.Set("Content-Type", map[string]string{"/users/e401": "text/plain", "/users/e409": "application/json", "/users/e418": "application/json"}[r.URL.Path])
			w.WriteHeader(map[string]int{"/users/e401": 401, "/users/e409": 409, "/users/e418": 418}[r.URL.Path])
		case "/list":
			h.Set("Content-Type", "application/json")
		case "/report":
			h.Set("Content-Type", "text/csv")
			_, _ = io.WriteString(w, "id,name\n1,a\n")
			return
		default:
			h.Set("Content-Type", "application/json")
		}
		_, _ = io.WriteString(w, leakJSON)
	}))
	t.Cleanup(u.Close)
	return u.URL
}

func mismatchGateway(t *testing.T, extra string, reg *prometheus.Registry) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(mismatchSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("upstream: %q\nspec: api.yaml\nauthz: { default: public }\n%s\n", leakyUpstream(t), extra)
	p := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Check(p)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	pl, err := gateway.Build(context.Background(), c, gateway.Deps{Registry: reg})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	srv := httptest.NewServer(pl)
	t.Cleanup(func() { srv.Close(); _ = pl.Close() })
	return srv
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func filterActions(t *testing.T, reg *prometheus.Registry, action string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_response_filter_actions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestAttackResponseMismatch: JSON the contract does not declare (another
// content type, none, a foreign charset, an undeclared status, another
// top-level type) never reaches the client unfiltered (on_mismatch: block).
func TestAttackResponseMismatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := mismatchGateway(t, "", reg)
	for _, tc := range []struct {
		name, path, action string
		want               int
	}{
		{"json leaked as text/plain", "/users/textplain", "undeclared_content_type", 502},
		{"json without content-type is sniffed and filtered", "/users/notype", "", 200},
		{"json as charset utf-16", "/users/utf16", "charset", 502},
		{"json under undeclared 299", "/users/s299", "undeclared_status", 502},
		{"json under undeclared 207", "/users/s207", "undeclared_status", 502},
		{"object instead of declared array", "/list", "shape_mismatch", 502},
		// A client error keeps its status, with the generic body.
		{"401 as text/plain", "/users/e401", "undeclared_content_type", 401},
		{"json under undeclared 409", "/users/e409", "undeclared_status", 409},
		{"json under undeclared 418", "/users/e418", "undeclared_status", 418},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := filterActions(t, reg, tc.action)
			code, body := getBody(t, srv.URL+tc.path)
			if code != tc.want {
				t.Fatalf("status %d, want %d (body %s)", code, tc.want, body)
			}
			if strings.Contains(body, "password_hash") || strings.Contains(body, "secrethash") || strings.Contains(body, "internal_note") {
				t.Fatalf("leaked: %s", body)
			}
			if tc.want >= 400 && !strings.Contains(body, `"status":`+fmt.Sprint(tc.want)) {
				t.Fatalf("blocked answer is not the generic problem: %s", body)
			}
			if tc.action != "" && filterActions(t, reg, tc.action) != before+1 {
				t.Fatalf("%s not counted", tc.action)
			}
		})
	}
}

// TestResponseMismatchHappyPaths: declared responses pass; on_mismatch pass
// reduces instead of blocking; monitor mode only logs.
func TestResponseMismatchHappyPaths(t *testing.T) {
	t.Run("declared text/csv passes", func(t *testing.T) {
		srv := mismatchGateway(t, "", prometheus.NewRegistry())
		if code, body := getBody(t, srv.URL+"/report"); code != 200 || body != "id,name\n1,a\n" {
			t.Fatalf("%d %q", code, body)
		}
	})
	t.Run("declared json filtered", func(t *testing.T) {
		srv := mismatchGateway(t, "", prometheus.NewRegistry())
		code, body := getBody(t, srv.URL+"/users/ok")
		if code != 200 || !strings.Contains(body, `"name":"a"`) || strings.Contains(body, "password_hash") || strings.Contains(body, "internal_note") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("on_mismatch pass reduces", func(t *testing.T) {
		srv := mismatchGateway(t, "response: { on_mismatch: pass }", prometheus.NewRegistry())
		code, body := getBody(t, srv.URL+"/users/textplain")
		if code != 200 || !strings.Contains(body, `"name":"a"`) || strings.Contains(body, "password_hash") || strings.Contains(body, "internal_note") {
			t.Fatalf("text/plain: %d %s", code, body)
		}
		if code, body := getBody(t, srv.URL+"/list"); code != 200 || body != "[]" {
			t.Fatalf("object for array: %d %s", code, body)
		}
	})
	t.Run("monitor mode logs only", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		srv := mismatchGateway(t, "mode: monitor", reg)
		code, body := getBody(t, srv.URL+"/users/s299")
		if code != 299 || !strings.Contains(body, "internal_note") {
			t.Fatalf("%d %s", code, body)
		}
		if filterActions(t, reg, "undeclared_status") != 1 {
			t.Fatal("not counted in monitor mode")
		}
	})
}
