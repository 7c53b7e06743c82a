package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/internal/demo/bookapi"
	"github.com/gatehouse/gatehouse/internal/demo/vulnapi"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks"
)

// merge deep-merges src into dst (maps merge, anything else replaces).
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// validateSnippet puts snippet into a minimal gateway config for spec and
// runs `gatehouse validate` on it (load, check and build).
func validateSnippet(t *testing.T, dir, spec, snippet string) (string, error) {
	t.Helper()
	cfg := map[string]any{"upstream": "http://127.0.0.1:5000", "spec": spec}
	var add map[string]any
	// Key files in snippets are placeholders under /etc/gatehouse/: the
	// test provides real ones there (see writeTLS).
	snippet = strings.ReplaceAll(snippet, "/etc/gatehouse/", dir+"/")
	if err := yaml.Unmarshal([]byte(snippet), &add); err != nil {
		return "", err
	}
	merge(cfg, add)
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "gatehouse-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = runValidate(ctx, &out, f.Name(), true)
	return string(b) + "\n" + out.String(), err
}

// TestFixSnippetsValidate: every gatehouse setting a finding names (each
// check's Fix, and the operation-specific Fix of every finding the scanner
// reports on both test APIs) passes `gatehouse validate` in a minimal
// config next to the API's spec (issue 11, "Done when").
func TestFixSnippetsValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("scans both test APIs")
	}
	dir := t.TempDir()
	demoSpec, bookSpec := filepath.Join(dir, "demo.yaml"), filepath.Join(dir, "bookapi.yaml")
	if err := os.WriteFile(demoSpec, vulnapi.Spec, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bookSpec, bookapi.Spec, 0o600); err != nil {
		t.Fatal(err)
	}
	// A snippet naming "spec: openapi.yaml" means the user's own spec.
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), vulnapi.Spec, 0o600); err != nil {
		t.Fatal(err)
	}
	writeTLS(t, dir)
	snippets := map[string]map[string]string{} // spec → snippet → who names it
	add := func(spec, snippet, who string) {
		if strings.TrimSpace(snippet) == "" {
			return
		}
		if snippets[spec] == nil {
			snippets[spec] = map[string]string{}
		}
		snippets[spec][snippet] = who
	}
	for _, c := range checks.Dynamic() {
		add(demoSpec, c.Meta().Fix, c.Meta().ID)
	}
	add(demoSpec, scan.TargetDownMeta.Fix, scan.TargetDownMeta.ID)

	// Findings name operation-specific settings: take them from real scans.
	api, err := vulnapi.New(vulnapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	demoSrv := httptest.NewServer(api)
	defer demoSrv.Close()
	var ids []*scan.Identity
	for _, u := range vulnapi.Users {
		ids = append(ids, scan.NewLoginIdentity(u.Username, "login", map[string]string{"username": u.Username, "password": u.Password}))
	}
	books, err := bookapi.Start(bookapi.Options{}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer books.Close()
	var bookIDs []*scan.Identity
	for _, m := range bookapi.Members {
		bookIDs = append(bookIDs, scan.NewLoginIdentity(m.Username, "loginUser", map[string]string{"username": m.Username, "password": m.Password}))
	}
	for _, tc := range []struct {
		spec, url string
		doc       []byte
		ids       []*scan.Identity
	}{{demoSpec, demoSrv.URL, vulnapi.Spec, ids}, {bookSpec, books.URL, bookapi.Spec, bookIDs}} {
		sp, err := openapi.LoadBytes(tc.doc, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		tg, err := scan.NewTarget(sp, tc.url, tc.ids, scan.NewClient(scan.ClientOptions{Budget: 3000}), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Run(context.Background(), tg, scan.Options{Checks: checks.Dynamic()})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			add(tc.spec, f.Fix, f.CheckID+" "+f.Operation)
		}
	}
	n := 0
	for spec, m := range snippets {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, snippet := range keys {
			n++
			if out, err := validateSnippet(t, dir, spec, snippet); err != nil {
				t.Errorf("%s's fix does not validate: %v\nsnippet: %s\n%s", m[snippet], err, snippet, out)
			}
		}
	}
	t.Logf("%d distinct fix snippets validated", n)
	if n < 20 {
		t.Errorf("only %d snippets: the test proves little", n)
	}
}

// writeTLS writes a self-signed ECDSA certificate and key as tls.crt and
// tls.key in dir.
func writeTLS(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}
