package deploy

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSpec is an API the README's first config fits: getOrder carries
// the user_id its ownership rule reads, and one operation is tagged admin.
const readmeSpec = `openapi: 3.1.0
info: {title: orders, version: "1"}
paths:
  /users/{user_id}/orders/{order_id}:
    get:
      operationId: getOrder
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: integer}}
        - {name: order_id, in: path, required: true, schema: {type: integer}}
      responses:
        "200": {description: the order}
  /admin/orders:
    get:
      operationId: listAllOrders
      tags: [admin]
      responses:
        "200": {description: every order}
`

// TestReadmeFirstConfigOffline runs the README's offline quick start with
// the built binary and no network: keygen, validate on the README's YAML
// block (load, validate and build), and a token from the same key.
func TestReadmeFirstConfigOffline(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Put it in front of your API")
	if !ok {
		t.Fatal(`README: no "## Put it in front of your API" section`)
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("README: no yaml block in the section")
	}
	block, _, _ = strings.Cut(block, "```")
	if !strings.Contains(block, "keys: [signing.pem]") {
		t.Fatalf("the README's first config does not use the local key:\n%s", block)
	}
	bin := gatehouseBinary(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		// No proxy, no network: a build that tried to fetch keys would fail.
		cmd.Env = append(os.Environ(), "HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	run("token", "keygen", "--out", "signing.pem")
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.yaml"), []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(readmeSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("validate: %s", run("validate", "-c", "gatehouse.yaml"))
	tok := strings.TrimSpace(run("token", "--key", "signing.pem", "--iss", "gatehouse", "--sub", "42", "--aud", "orders-api", "--ttl", "15m"))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h, c map[string]any
	if json.Unmarshal(hdr, &h) != nil || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("token %q does not decode", tok)
	}
	if h["alg"] != "EdDSA" || c["iss"] != "gatehouse" || c["aud"] != "orders-api" || c["sub"] != "42" {
		t.Errorf("token header %v claims %v: want EdDSA, iss gatehouse, aud orders-api, sub 42 (what the config trusts)", h, c)
	}
}
