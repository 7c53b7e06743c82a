package gateway

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

// patternSpec has a catastrophic ECMA-only pattern (the look-ahead keeps it
// off RE2), a look-ahead that RE2 refuses, and one pattern no engine
// compiles.
const patternSpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /users/{user_id}:
    post:
      operationId: setName
      parameters: [{name: user_id, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                evil: {type: string, pattern: '^(?!b)(a+)+$'}
                code: {type: string, pattern: '^(?=.*\d)\w{4}$'}
                odd: {type: string, pattern: '([a-z]'}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
`

// TestGatewayPatternReDoS (attacker, through the listener): a catastrophic
// pattern is cut by the match timeout, the requests get a 400 problem body,
// the upstream never sees them, and the gateway keeps serving valid and
// invalid requests alike.
func TestGatewayPatternReDoS(t *testing.T) {
	e := start(t, "")
	writeFile(t, filepath.Join(e.dir, "spec.yaml"), patternSpec)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	json := map[string]string{"Content-Type": "application/json"}
	evil := `{"evil":"` + strings.Repeat("a", 40) + `!"}`
	seen := e.up.requests.Load()
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(e.base+"/users/1", "application/json", strings.NewReader(evil))
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusBadRequest {
			t.Errorf("attack %d: status %d, want 400", i, c)
		}
	}
	if n := e.up.requests.Load() - seen; n != 0 {
		t.Errorf("%d attack requests reached the upstream", n)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"evil":"aaaa"}`, http.StatusOK},
		{`{"code":"ab1c"}`, http.StatusOK},
		{`{"code":"abcd"}`, http.StatusBadRequest},
		{`{"odd":"anything ("}`, http.StatusOK}, // that one constraint is skipped
	} {
		res, body := e.do("POST", "/users/1", json, strings.NewReader(tc.body))
		if res.StatusCode != tc.want {
			t.Errorf("POST %s: status %d, want %d (%s)", tc.body, res.StatusCode, tc.want, body)
		}
	}
}

// TestSpecStrictPatterns: by default the uncompilable pattern is a located
// warning (what gatehouse validate prints, with the count); with
// spec_strict_patterns: true the build fails and names it.
func TestSpecStrictPatterns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(patternSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, strict := range []bool{false, true} {
		extra := ""
		if strict {
			extra = "spec_strict_patterns: true\n"
		}
		cfgPath := filepath.Join(dir, "gatehouse.yaml")
		if err := os.WriteFile(cfgPath, []byte(configYAML("http://127.0.0.1:9", extra)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Check(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(context.Background(), cfg, Deps{})
		if strict {
			if !errors.Is(err, ErrBadPatterns) || !strings.Contains(err.Error(), "spec.yaml:16:22") {
				t.Fatalf("strict: Build = %v, want ErrBadPatterns naming spec.yaml:16:22", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		var located, counted bool
		for _, w := range SpecWarnings(cfg, p) {
			located = located || strings.Contains(w.Msg, "spec.yaml:16:22: pattern skipped") && strings.Contains(w.Msg, `"([a-z]"`)
			counted = counted || strings.HasPrefix(w.Msg, "1 pattern regexp(s)")
		}
		if !located || !counted {
			t.Errorf("SpecWarnings = %v: located %v, counted %v", SpecWarnings(cfg, p), located, counted)
		}
		p.Close()
	}
}

// TestStrictPatternsResponseOnly: a patternProperties regexp that no engine
// compiles, in a schema only a response uses, is named and refused under
// spec_strict_patterns too: the response filter does not compile response
// schemas for validation in its default filter mode, so its shapes report it.
func TestStrictPatternsResponseOnly(t *testing.T) {
	dir := t.TempDir()
	spec := `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /tags:
    get:
      operationId: listTags
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                patternProperties:
                  '([a-z]': {type: string}
`
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML("http://127.0.0.1:9", "spec_strict_patterns: true\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), cfg, Deps{})
	if !errors.Is(err, ErrBadPatterns) || !strings.Contains(err.Error(), "spec.yaml:13:17") || !strings.Contains(err.Error(), "patternProperties") {
		if p != nil {
			p.Close()
		}
		t.Fatalf("Build = %v, want ErrBadPatterns naming spec.yaml:13:17 patternProperties", err)
	}
}
