package gateway

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

// TestAdminRevoke drives the whole server: a token works on the public
// listener until POST /-/revoke on the admin listener names its jti.
func TestAdminRevoke(t *testing.T) {
	up := upstreamEcho(t)
	cfg, signer := authnFixture(t, up.URL, "memory")
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(context.Background(), ServerOptions{ConfigPath: cfg.File, PublicListener: pub, AdminListener: adm})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	exp := time.Now().Add(time.Hour)
	tok, _ := jwt.Mint(map[string]any{"iss": "gatehouse-test", "aud": "orders-api", "sub": "dave", "jti": "admin-revoke-1", "exp": exp.Unix()}, "EdDSA", signer)
	get := func() int {
		req, _ := http.NewRequest("GET", "http://"+pub.Addr().String()+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("GET before revoke = %d, want 200", got)
	}
	// The revoke endpoint is on the admin listener only.
	body := `{"jti":"admin-revoke-1","expires":"` + exp.UTC().Format(time.RFC3339) + `"}`
	resp, err := http.Post("http://"+pub.Addr().String()+"/-/revoke", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
		t.Fatalf("POST /-/revoke on the public listener = %d, must not be served there", resp.StatusCode)
	}
	resp, err = http.Post("http://"+adm.Addr().String()+"/-/revoke", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /-/revoke on admin = %d, want 2xx", resp.StatusCode)
	}
	if got := get(); got != 401 {
		t.Fatalf("GET after admin revoke = %d, want 401", got)
	}
}

func TestReasonLabelBounded(t *testing.T) {
	for in, want := range map[string]string{
		"bad_path":                        "bad_path",
		"getUser: user_id 3 is not sub 2": "getUser",
		"limit per-user key user":         "limit per-user key user",
		strings.Repeat("x", 500):          strings.Repeat("x", 64),
		"tag:admin: role admin missing":   "tag:admin",
	} {
		if got := reasonLabel(in); got != want {
			t.Errorf("reasonLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
