package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/config"
)

const contractSpec = `openapi: 3.0.3
info: {title: shop, version: "1"}
paths:
  /register:
    post:
      operationId: register
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [username, password]
              properties:
                username: {type: string, maxLength: 40}
                password: {type: string, minLength: 8}
                display_name: {type: string}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/User'}
  /users:
    get:
      operationId: listUsers
      parameters:
        - {name: q, in: query, schema: {type: string}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/User'}
components:
  schemas:
    User:
      type: object
      properties:
        id: {type: integer}
        username: {type: string}
        display_name: {type: string}
`

// TestContractEndToEnd runs gateway.Build's full pipeline in front of an
// upstream that trusts its input and over-shares its output: mass
// assignment (role: admin in a registration) must not reach it, and password
// hashes in a list response must not reach the client.
func TestContractEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/register":
			w.WriteHeader(201)
			io.WriteString(w, `{"id":7,"username":"ann","role":"user","password_hash":"$2b$12$xyz"}`)
		case "/users":
			io.WriteString(w, `[{"id":1,"username":"root","password_hash":"$2b$12$aaa","is_admin":true},`+
				`{"id":2,"username":"ann","password_hash":"$2b$12$bbb","email_verified_token":"tok"}]`)
		}
	}))
	defer up.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(contractSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	cfgYAML := `listen: "127.0.0.1:0"
upstream: "` + up.URL + `"
spec: spec.yaml
authz:
  default: public
`
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	reg := prometheus.NewRegistry()
	p, err := Build(context.Background(), cfg, Deps{Registry: reg})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()

	post := func(body, ct string) (int, string) {
		req, _ := http.NewRequest("POST", gw.URL+"/register", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Mass assignment, in the spellings an attacker tries.
	for _, tc := range []struct{ name, body, ct, field string }{
		{"role admin", `{"username":"mallory","password":"longenough","role":"admin"}`, "application/json", "/role"},
		{"unicode escaped key", `{"username":"mallory","password":"longenough","\u0072ole":"admin"}`, "application/json", "/role"},
		{"duplicate key", `{"username":"mallory","password":"longenough","username":"admin"}`, "application/json", "/username"},
		{"as form", `username=mallory&password=longenough&role=admin`, "application/x-www-form-urlencoded", ""},
		{"as text/plain", `{"username":"mallory","password":"longenough","role":"admin"}`, "text/plain", ""},
	} {
		t.Run("mass assignment/"+tc.name, func(t *testing.T) {
			status, body := post(tc.body, tc.ct)
			if status != 400 && status != 415 {
				t.Fatalf("POST /register %s: status %d, want 400/415 (body %s)", tc.name, status, body)
			}
			pd := problemOf(t, body)
			if pd.Field != tc.field {
				t.Errorf("problem field = %q, want %q", pd.Field, tc.field)
			}
			if strings.Contains(body, "schema") || strings.Contains(body, "jsonschema") || strings.Contains(body, "admin") {
				t.Errorf("problem body leaks internals or input: %s", body)
			}
		})
	}
	mu.Lock()
	n := len(bodies)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("upstream received %d rejected registrations: %q", n, bodies)
	}

	// A clean registration passes, and its response loses the hash.
	status, body := post(`{"username":"ann","password":"longenough"}`, "application/json")
	if status != 201 || strings.Contains(body, "password_hash") || strings.Contains(body, "role") {
		t.Fatalf("POST /register clean: %d %s", status, body)
	}

	// Excessive data exposure: the list response is filtered.
	resp, err := gw.Client().Get(gw.URL + "/users")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /users: %d %s", resp.StatusCode, b)
	}
	for _, leak := range []string{"password_hash", "$2b$", "is_admin", "email_verified_token"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("GET /users leaked %q: %s", leak, b)
		}
	}
	if !strings.Contains(string(b), `"username":"root"`) {
		t.Errorf("GET /users lost declared fields: %s", b)
	}

	// SQL injection in a free-form query string is refused.
	resp, err = gw.Client().Get(gw.URL + "/users?q=" + "1%27%20OR%20%271%27%3D%271")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("GET /users?q=<sqli>: %d, want 400", resp.StatusCode)
	}

	// Failures are counted by operation and kind.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted float64
	for _, mf := range mfs {
		if mf.GetName() == "gatehouse_validation_failures_total" {
			for _, m := range mf.GetMetric() {
				counted += m.GetCounter().GetValue()
			}
		}
	}
	if counted < 6 {
		t.Errorf("gatehouse_validation_failures_total = %v, want >= 6", counted)
	}
}

// TestContractMonitorMode: with the route in monitor mode the same mass
// assignment is logged and counted but reaches the upstream.
func TestContractMonitorMode(t *testing.T) {
	var got []string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer up.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(contractSpec), 0o600)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfgPath, []byte(`listen: "127.0.0.1:0"
upstream: "`+up.URL+`"
spec: spec.yaml
authz: { default: public }
routes:
  register: { mode: monitor }
`), 0o600)
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	resp, err := gw.Client().Post(gw.URL+"/register", "application/json",
		strings.NewReader(`{"username":"m","password":"longenough","role":"admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 204 || len(got) != 1 || !strings.Contains(got[0], `"role":"admin"`) {
		t.Fatalf("monitor mode: status %d, upstream got %q", resp.StatusCode, got)
	}
}

const formSpec = `openapi: 3.0.3
info: {title: forms, version: "1"}
paths:
  /profile:
    post:
      operationId: updateProfile
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [display_name]
              properties:
                display_name: {type: string, maxLength: 40}
                age: {type: integer, minimum: 0}
                tags: {type: array, items: {type: string}}
      responses:
        '204': {description: ok}
  /upload:
    post:
      operationId: upload
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [title, file]
              properties:
                title: {type: string, maxLength: 40}
                file: {type: string, format: binary}
            encoding:
              file: {contentType: 'image/png'}
      responses:
        '204': {description: ok}
  /pets/{id}:
    get:
      operationId: getPet
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: '#/components/schemas/Cat'
                  - $ref: '#/components/schemas/Dog'
                discriminator:
                  propertyName: pet_type
                  mapping: {cat: '#/components/schemas/Cat', dog: '#/components/schemas/Dog'}
components:
  schemas:
    Cat:
      type: object
      required: [pet_type]
      properties:
        pet_type: {type: string}
        name: {type: string}
        secret_lives: {type: integer}
    Dog:
      type: object
      required: [pet_type]
      properties:
        pet_type: {type: string}
        name: {type: string}
        bark: {type: boolean}
`

// TestContractFormsAndOneOf runs form, multipart and oneOf responses through
// gateway.Build's pipeline and a real upstream: attacks on form bodies never
// reach the upstream, clean ones do, and a Dog response loses the Cat-only
// field the union of branches used to let through.
func TestContractFormsAndOneOf(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+" "+string(b))
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/pets/"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"pet_type":"dog","name":"Rex","bark":true,"secret_lives":9,"owner_ssn":"123-45-6789"}`)
		default:
			w.WriteHeader(204)
		}
	}))
	defer up.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(formSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(`listen: "127.0.0.1:0"
upstream: "`+up.URL+`"
spec: spec.yaml
authz: { default: public }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	p, err := Build(context.Background(), cfg, Deps{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	send := func(path, ct, body string) (int, string) {
		req, _ := http.NewRequest("POST", gw.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const form = "application/x-www-form-urlencoded"
	const mpct = "multipart/form-data; boundary=XyZ"
	part := func(name, extra, content string) string {
		return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"" + extra + "\r\n\r\n" + content + "\r\n"
	}
	png := "Content-Type: image/png"
	for _, tc := range []struct {
		name, path, ct, body string
		status               int
		field                string
	}{
		{"form mass assignment", "/profile", form, "display_name=m&role=admin", 400, "/role"},
		{"form duplicate field", "/profile", form, "display_name=m&display_name=admin", 400, "/display_name"},
		{"form smuggled via query", "/profile?role=admin&display_name=x", form, "display_name=m", 400, "display_name"},
		{"form integer", "/profile", form, "display_name=m&age=1e3", 400, "/age"},
		{"form sqli", "/profile", form, "display_name=1%27+OR+%271%27%3D%271", 400, "/display_name"},
		{"form semicolon", "/profile", form, "display_name=m;role=admin", 400, ""},
		{"form charset utf-7", "/profile", form + "; charset=utf-7", "display_name=m", 415, ""},
		{"json to form op", "/profile", "application/json", `{"display_name":"m"}`, 415, ""},
		{"multipart wrong part type", "/upload", mpct,
			part("title", "", "x") + part("file", `; filename="a.svg"`, "") + "--XyZ--\r\n", 415, "/file"},
		{"multipart boundary prefix", "/upload", mpct,
			part("title", "", "x\r\n--XyZz\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin") +
				"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n" + png + "\r\n\r\n\x89PNG\r\n--XyZ--\r\n", 400, ""},
		{"multipart missing boundary", "/upload", "multipart/form-data", part("title", "", "x") + "--XyZ--\r\n", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := send(tc.path, tc.ct, tc.body)
			if status != tc.status {
				t.Fatalf("POST %s: status %d, want %d (body %s)", tc.path, status, tc.status, body)
			}
			if pd := problemOf(t, body); pd.Field != tc.field {
				t.Errorf("problem field = %q, want %q", pd.Field, tc.field)
			}
			if strings.Contains(body, "admin") {
				t.Errorf("problem body echoes input: %s", body)
			}
		})
	}
	mu.Lock()
	n := len(bodies)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("upstream received %d rejected requests: %q", n, bodies)
	}

	// Clean form and multipart requests reach the upstream unchanged.
	if status, body := send("/profile", form, "display_name=Ann&age=30&tags=a&tags=b"); status != 204 {
		t.Fatalf("clean form: %d %s", status, body)
	}
	upload := part("title", "", "Cat photo") + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n" +
		png + "\r\n\r\n\x89PNG\r\n\x1a\n' OR '1'='1 <script>\r\n--XyZ--\r\n"
	if status, body := send("/upload", mpct, upload); status != 204 {
		t.Fatalf("clean multipart (binary part not inspected): %d %s", status, body)
	}
	mu.Lock()
	if len(bodies) != 2 || bodies[1] != "/upload "+upload {
		t.Errorf("upstream got %q, want the clean form and the multipart body byte for byte", bodies)
	}
	mu.Unlock()

	// oneOf with a discriminator: the Dog loses the Cat-only field.
	resp, err := gw.Client().Get(gw.URL + "/pets/1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"bark":true`) {
		t.Fatalf("GET /pets/1: %d %s", resp.StatusCode, b)
	}
	for _, leak := range []string{"secret_lives", "owner_ssn", "123-45"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("GET /pets/1 leaked %q: %s", leak, b)
		}
	}
}
