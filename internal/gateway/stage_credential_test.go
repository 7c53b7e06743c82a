package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
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

const credentialSpec = `openapi: 3.0.3
info: {title: accounts, version: "1"}
paths:
  /register:
    post:
      operationId: registerUser
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: {type: string}
                email: {type: string}
                password: {type: string}
      responses:
        '201': {description: created}
  /me/password:
    put:
      operationId: changePassword
      x-gatehouse-credential: {field: new_password, user_fields: [username]}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: {type: string}
                current_password: {type: string}
                new_password: {type: string}
      responses:
        '204': {description: changed}
`

// syncBuffer is a log sink shared by the server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// credentialGateway runs the full pipeline over a loopback listener with
// debug logs captured; it returns the gateway URL, the upstream's received
// bodies and the log.
func credentialGateway(t *testing.T, extra string) (string, func() []string, *syncBuffer) {
	t.Helper()
	return credentialGatewaySpec(t, credentialSpec, extra)
}

func credentialGatewaySpec(t *testing.T, spec, extra string) (string, func() []string, *syncBuffer) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		if r.Method == "PUT" {
			w.WriteHeader(204)
			return
		}
		w.WriteHeader(201)
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	cfgYAML := `listen: "127.0.0.1:0"
upstream: "` + up.URL + `"
spec: spec.yaml
authz:
  default: public
` + extra
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatalf("config.Check: %v", err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := Build(context.Background(), cfg, Deps{Registry: prometheus.NewRegistry(), Logger: log})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	gw := httptest.NewServer(p)
	t.Cleanup(gw.Close)
	return gw.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}, logs
}

func sendJSON(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const credentialConfig = `request:
  reject_unknown_properties: false
  operations:
    registerUser:
      credential: {field: password, user_fields: [username, email]}
`

// TestCredentialPolicyThroughListener attacks the password policy from
// the client side: short, long, common, personal and control-character
// passwords, the field name in other cases and Unicode lookalikes that
// encoding/json would decode into the same field, and a second copy of
// the field. No refused password reaches the upstream, the answer or the log.
func TestCredentialPolicyThroughListener(t *testing.T) {
	gw, upstream, logs := credentialGateway(t, credentialConfig)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		secret     string // must never appear in the response or the log
		wantStatus int
		wantReason string
	}{
		{"good", "POST", "/register", `{"username":"annabelle","email":"ann@example.com","password":"violet-anvil-cactus-52"}`, "", 201, ""},
		{"too short", "POST", "/register", `{"username":"annabelle","password":"Sh0rt-pw"}`, "Sh0rt-pw", 400, "too_short"},
		{"too long", "POST", "/register", `{"username":"annabelle","password":"` + strings.Repeat("Lo9", 43) + `"}`, strings.Repeat("Lo9", 43), 400, "too_long"},
		{"common", "POST", "/register", `{"username":"annabelle","password":"unbelievable"}`, "unbelievable", 400, "too_common"},
		{"common upper", "POST", "/register", `{"username":"annabelle","password":"UNBELIEVABLE"}`, "UNBELIEVABLE", 400, "too_common"},
		{"contains username", "POST", "/register", `{"username":"annabelle","password":"xx-AnnaBelle-2024"}`, "xx-AnnaBelle-2024", 400, "contains_user"},
		{"contains email", "POST", "/register", `{"email":"zed.q@example.com","password":"Zed.Q@Example.com1"}`, "Zed.Q@Example.com1", 400, "contains_user"},
		{"username key in other case", "POST", "/register", `{"USERNAME":"annabelle","password":"xx-annabelle-2024"}`, "xx-annabelle-2024", 400, "contains_user"},
		{"control character", "POST", "/register", `{"password":"tab\tinside-password"}`, "inside-password", 400, "invalid_characters"},
		{"nul escaped", "POST", "/register", `{"password":"nul\u0000inside-password"}`, "inside-password", 400, "invalid_characters"},
		{"not a string", "POST", "/register", `{"password":123456789012345}`, "123456789012345", 400, "contract"},
		{"Password key", "POST", "/register", `{"Password":"Tiny-pw1"}`, "Tiny-pw1", 400, "too_short"},
		{"PASSWORD key", "POST", "/register", `{"PASSWORD":"Tiny-pw2"}`, "Tiny-pw2", 400, "too_short"},
		{"long-s lookalike key (raw UTF-8)", "POST", "/register", `{"pa` + "\u017f" + `sword":"Tiny-pw3"}`, "Tiny-pw3", 400, "too_short"},
		{"long-s lookalike key (JSON escape)", "POST", "/register", `{"pa\u017fsword":"Tiny-pw4"}`, "Tiny-pw4", 400, "too_short"},
		{"good then weak variant", "POST", "/register", `{"password":"violet-anvil-cactus-52","Password":"Tiny-pw5"}`, "Tiny-pw5", 400, "too_short"},
		{"weak then good variant", "POST", "/register", `{"PASSWORD":"Tiny-pw6","password":"violet-anvil-cactus-52"}`, "Tiny-pw6", 400, "too_short"},
		{"spec extension good", "PUT", "/me/password", `{"username":"annabelle","current_password":"x","new_password":"violet-anvil-cactus-52"}`, "", 204, ""},
		{"spec extension short", "PUT", "/me/password", `{"current_password":"x","new_password":"Tiny-pw7"}`, "Tiny-pw7", 400, "too_short"},
		{"spec extension user", "PUT", "/me/password", `{"username":"annabelle","new_password":"annabelle-annabelle"}`, "annabelle-annabelle", 400, "contains_user"},
		{"spec extension other case", "PUT", "/me/password", `{"New_Password":"Tiny-pw8"}`, "Tiny-pw8", 400, "too_short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(upstream())
			status, body := sendJSON(t, tt.method, gw+tt.path, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, status, body, tt.wantStatus)
			}
			if tt.wantReason == "" {
				if len(upstream()) != before+1 {
					t.Errorf("accepted request did not reach the upstream")
				}
				return
			}
			if len(upstream()) != before {
				t.Errorf("refused password reached the upstream")
			}
			if tt.wantReason == "contract" { // refused earlier, by the schema
				return
			}
			var d struct{ Detail, Type string }
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if d.Detail != "password policy: "+tt.wantReason {
				t.Errorf("detail = %q, want reason %q", d.Detail, tt.wantReason)
			}
			if strings.Contains(body, tt.secret) {
				t.Errorf("response echoes the password: %s", body)
			}
		})
	}
	all := logs.String()
	if !strings.Contains(all, `"stage":"credential"`) {
		t.Fatalf("no credential denial in the log:\n%s", all)
	}
	for _, tt := range tests {
		if tt.secret != "" && strings.Contains(all, tt.secret) {
			t.Errorf("log contains the password of %q", tt.name)
		}
	}
	if strings.Contains(all, "violet-anvil-cactus-52") {
		t.Errorf("log contains an accepted password")
	}
}

// TestCredentialDuplicateKeys: a second exact copy of the password field
// (encoding/json keeps the last one) is refused by the contract stage, and
// by the password stage itself when request validation is off.
func TestCredentialDuplicateKeys(t *testing.T) {
	dup := `{"username":"annabelle","password":"violet-anvil-cactus-52","password":"Tiny-pw9"}`
	escaped := `{"password":"violet-anvil-cactus-52","pass\u0077ord":"Tiny-pw9"}`
	for _, tc := range []struct {
		name, extra, wantStage string
	}{
		{"validation on", credentialConfig, "request_validation"},
		{"validation off", strings.Replace(credentialConfig, "request:\n", "request:\n  validate: false\n", 1), "credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, upstream, logs := credentialGateway(t, tc.extra)
			for _, body := range []string{dup, escaped} {
				status, resp := sendJSON(t, "POST", gw+"/register", body)
				if status != 400 {
					t.Errorf("duplicate password keys = %d %s, want 400", status, resp)
				}
				if strings.Contains(resp, "Tiny-pw9") {
					t.Errorf("response echoes the password: %s", resp)
				}
			}
			if n := len(upstream()); n != 0 {
				t.Errorf("%d duplicate-key bodies reached the upstream", n)
			}
			all := logs.String()
			if strings.Contains(all, "Tiny-pw9") || strings.Contains(all, "violet-anvil") {
				t.Errorf("log contains a password:\n%s", all)
			}
			if tc.wantStage == "credential" && !strings.Contains(all, `"reason":"bad_json"`) {
				t.Errorf("password stage did not refuse the duplicate itself:\n%s", all)
			}
		})
	}
}

// TestCredentialMonitor: in monitor mode a weak password is logged (by
// reason) and passes.
func TestCredentialMonitor(t *testing.T) {
	gw, upstream, logs := credentialGateway(t, credentialConfig+"routes:\n  registerUser: {mode: monitor}\n")
	status, _ := sendJSON(t, "POST", gw+"/register", `{"password":"Tiny-pw10"}`)
	if status != 201 || len(upstream()) != 1 {
		t.Fatalf("monitor: status %d, upstream saw %d requests; want 201 and 1", status, len(upstream()))
	}
	all := logs.String()
	if !strings.Contains(all, "credential: too_short") || strings.Contains(all, "Tiny-pw10") {
		t.Errorf("monitor log should name the reason and never the password:\n%s", all)
	}
}

// credentialBuildErr checks and builds a gateway for spec with config
// lines extra, and returns the error (nil when it would start).
func credentialBuildErr(t *testing.T, spec, extra string) error {
	t.Helper()
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o600)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	_ = os.WriteFile(cfgPath, []byte("upstream: http://127.0.0.1:1\nspec: spec.yaml\nauthz: {default: public}\n"+extra), 0o600)
	cfg, err := config.Check(cfgPath)
	if err != nil {
		return err
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if p != nil {
		p.Close()
	}
	return err
}

func TestCredentialConfigErrors(t *testing.T) {
	for _, tc := range []struct{ extra, want string }{
		{"request:\n  operations:\n    nosuchOp:\n      credential: {field: password}\n", "not in the spec"},
	} {
		if err := credentialBuildErr(t, credentialSpec, tc.extra); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q: err = %v, want %q", tc.extra, err, tc.want)
		}
	}
}

// Every form of the spec's mark means what the scanner reads it as (one
// parser, openapi.Operation.Credential): `true` checks the "password"
// field (it used to check a field named "true", so nothing), a field name
// checks that field, `false` checks nothing, and a malformed mark stops
// the start naming its pointer.
func TestCredentialExtensionForms(t *testing.T) {
	const mark = "x-gatehouse-credential: {field: new_password, user_fields: [username]}"
	if !strings.Contains(credentialSpec, mark) {
		t.Fatal("credentialSpec changed: update this test")
	}
	for _, tc := range []struct {
		form, body string
		want       int
	}{
		{"x-gatehouse-credential: true", `{"username":"ann","password":"123456"}`, 400},
		{"x-gatehouse-credential: true", `{"username":"ann","password":"correct horse battery staple"}`, 201},
		{"x-gatehouse-credential: email", `{"username":"ann","email":"123456","password":"123456"}`, 400},
		{"x-gatehouse-credential: email", `{"username":"ann","email":"a@example.com","password":"123456"}`, 201},
		{"x-gatehouse-credential: false", `{"username":"ann","password":"123456"}`, 201},
		{"x-gatehouse-credential: {min_length: 30}", `{"username":"ann","password":"correct horse battery staple"}`, 400},
	} {
		t.Run(tc.form+" "+tc.body, func(t *testing.T) {
			spec := strings.Replace(credentialSpec, "operationId: registerUser\n", "operationId: registerUser\n      "+tc.form+"\n", 1)
			gw, _, _ := credentialGatewaySpec(t, spec, "")
			if code, body := sendJSON(t, "POST", gw+"/register", tc.body); code != tc.want {
				t.Errorf("POST %s = %d %s, want %d", tc.body, code, body, tc.want)
			}
		})
	}
	for _, form := range []string{"x-gatehouse-credential: 7", "x-gatehouse-credential: [password]", "x-gatehouse-credential: {feild: pw}"} {
		err := credentialBuildErr(t, strings.Replace(credentialSpec, mark, form, 1), "")
		if err == nil || !strings.Contains(err.Error(), "/paths/~1me~1password/put/x-gatehouse-credential") {
			t.Errorf("%s: err = %v, want one naming the pointer", form, err)
		}
	}
}
