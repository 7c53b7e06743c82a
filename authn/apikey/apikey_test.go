package apikey

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

func TestAuthenticate(t *testing.T) {
	alice, aliceD, _ := Generate()
	old, oldD, _ := Generate()
	unknown, _, _ := Generate()
	file := fmt.Sprintf(`
- hash: %q
  subject: alice
  roles: [admin]
  scopes: [orders:read]
- hash: %q
  subject: old-ci
  expires: "2026-01-01T00:00:00Z"
`, aliceD, oldD)
	store, err := Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a, _ := New(Options{Store: store, Query: "api_key", Header: "X-API-Key", Now: func() time.Time { return now }})
	req := func(hdr []string, query string) *http.Request {
		r := httptest.NewRequest("GET", "/x", nil)
		for _, h := range hdr {
			r.Header.Add("X-API-Key", h)
		}
		if query != "" {
			r.URL.RawQuery = "api_key=" + url.QueryEscape(query)
		}
		return r
	}
	cases := []struct {
		name   string
		r      *http.Request
		reason string // "" ok, "-" no credentials
	}{
		{"valid header", req([]string{alice}, ""), ""},
		{"valid header, lowercase name", func() *http.Request { r := req(nil, ""); r.Header.Set("x-api-key", alice); return r }(), ""},
		{"valid query", req(nil, alice), ""},
		{"none", req(nil, ""), "-"},
		{"unknown key", req([]string{unknown}, ""), authn.ReasonUnknownKey},
		{"key with one char changed", req([]string{changeLast(alice)}, ""), authn.ReasonUnknownKey},
		{"the stored hash as key", req([]string{aliceD.String()}, ""), authn.ReasonUnknownKey},
		{"expired", req([]string{old}, ""), authn.ReasonKeyExpired},
		{"header and query", req([]string{alice}, alice), authn.ReasonMultipleTokens},
		{"two headers", req([]string{alice, unknown}, ""), authn.ReasonMultipleTokens},
		{"empty", req([]string{" "}, ""), authn.ReasonMalformed},
		{"oversize", req([]string{strings.Repeat("k", MaxKeyLen+1)}, ""), authn.ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(tc.r)
			switch tc.reason {
			case "":
				if err != nil || p.Subject != "alice" || !p.HasRole("admin") || !p.HasScope("orders:read") || p.Method != "api_key" {
					t.Fatalf("Authenticate = %+v, %v; want alice", p, err)
				}
			case "-":
				if !errors.Is(err, authn.ErrNoCredentials) {
					t.Fatalf("Authenticate = %v, want ErrNoCredentials", err)
				}
			default:
				if got := authn.Reason(err); got != tc.reason || !errors.Is(err, authn.ErrInvalidCredentials) {
					t.Fatalf("Authenticate reason = %q (%v), want %q", got, err, tc.reason)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"plain key instead of hash", "- {hash: ghk_abc, subject: a}", "want sha256"},
		{"short hash", "- {hash: 'sha256:abcd', subject: a}", "64 hex"},
		{"no subject", "- {hash: 'sha256:" + strings.Repeat("a", 64) + "'}", "subject is required"},
		{"unknown field", "- {hash: 'sha256:" + strings.Repeat("a", 64) + "', subject: a, key: plaintext}", "not found"},
		{"duplicate", "- {hash: 'sha256:" + strings.Repeat("a", 64) + "', subject: a}\n- {hash: 'sha256:" + strings.Repeat("a", 64) + "', subject: b}", "duplicate"},
		{"bad expiry", "- {hash: 'sha256:" + strings.Repeat("a", 64) + "', subject: a, expires: soon}", "expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadFileAndDateExpiry(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys.yaml")
	_, d, _ := Generate()
	if err := os.WriteFile(p, []byte("- {hash: '"+d.String()+"', subject: ci, expires: 2026-03-01}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadFile(p)
	if err != nil || m.Len() != 1 {
		t.Fatalf("LoadFile = %v, %v", m, err)
	}
	k, _ := m.Lookup(t.Context(), d)
	if want := time.Date(2026, 3, 1, 23, 59, 59, 999999999, time.UTC); !k.Expires.Equal(want) {
		t.Fatalf("Expires = %v, want end of day %v", k.Expires, want)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	_ = os.WriteFile(empty, nil, 0o600)
	if m, err := LoadFile(empty); err != nil || m.Len() != 0 {
		t.Fatalf("LoadFile(empty) = %v, %v", m, err)
	}
}

func TestGenerate(t *testing.T) {
	k1, d1, err := Generate()
	k2, _, _ := Generate()
	if err != nil || k1 == k2 || !strings.HasPrefix(k1, Prefix) || len(k1) != len(Prefix)+43 || Hash(k1) != d1 {
		t.Fatalf("Generate = %q, %v", k1, err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	key, d, _ := Generate()
	keys := make([]Key, 10000)
	for i := range keys {
		_, keys[i].Digest, _ = Generate()
		keys[i].Subject = "s"
	}
	keys[0] = Key{Digest: d, Subject: "alice"}
	m, _ := NewMemory(keys)
	a, _ := New(Options{Store: m})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// changeLast returns key with its last character replaced by a different one
// (a random key ending in "A" made a fixed replacement a no-op 1 time in 64).
func changeLast(key string) string {
	c := byte('A')
	if key[len(key)-1] == c {
		c = 'B'
	}
	return key[:len(key)-1] + string(c)
}
