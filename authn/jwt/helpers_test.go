package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// clock is an injected, manually advanced time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// keys are real keys generated once per test binary.
type testKeys struct {
	rsaPriv  *rsa.PrivateKey
	rsa      jwk.Key // private, kid rsa1
	rsa2     jwk.Key // private, kid rsa2 (rotation)
	ec       jwk.Key // private, kid ec1
	ed       jwk.Key // private, kid ed1
	attacker jwk.Key // private RSA, kid atk, never published
	hs       jwk.Key // symmetric, the issuer's shared secret
	secret   []byte
}

var (
	keysOnce sync.Once
	tk       testKeys
)

func keys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		mk := func(raw any, kid string) jwk.Key {
			k, err := jwk.Import(raw)
			if err != nil {
				panic(err)
			}
			if err := k.Set(jwk.KeyIDKey, kid); err != nil {
				panic(err)
			}
			return k
		}
		r1, _ := rsa.GenerateKey(rand.Reader, 2048)
		r2, _ := rsa.GenerateKey(rand.Reader, 2048)
		ra, _ := rsa.GenerateKey(rand.Reader, 2048)
		e1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		tk.rsaPriv = r1
		tk.rsa = mk(r1, "rsa1")
		tk.rsa2 = mk(r2, "rsa2")
		tk.ec = mk(e1, "ec1")
		tk.ed = mk(ed, "ed1")
		tk.attacker = mk(ra, "atk")
		tk.secret = []byte("0123456789abcdef0123456789abcdef-shared")
		tk.hs = mk(tk.secret, "hs1")
	})
	return &tk
}

// publicJWKS returns the JWKS JSON of the public halves of ks.
func publicJWKS(t testing.TB, ks ...jwk.Key) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range ks {
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idp is a real JWKS server on 127.0.0.1.
type idp struct {
	srv          *httptest.Server
	jwks         atomic.Pointer[[]byte]
	status       atomic.Int32 // 0 = 200
	cacheControl atomic.Pointer[string]
	hits         atomic.Int64
}

func newIDP(t testing.TB, ks ...jwk.Key) *idp {
	t.Helper()
	d := &idp{}
	d.setKeys(t, ks...)
	cc := "max-age=300"
	d.cacheControl.Store(&cc)
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": d.srv.URL, "jwks_uri": d.srv.URL + "/jwks"})
		case "/jwks":
			if s := d.status.Load(); s != 0 {
				w.WriteHeader(int(s))
				return
			}
			w.Header().Set("Cache-Control", *d.cacheControl.Load())
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(*d.jwks.Load())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *idp) setKeys(t testing.TB, ks ...jwk.Key) {
	b := publicJWKS(t, ks...)
	d.jwks.Store(&b)
}

func (d *idp) jwksHits() int64 { return d.hits.Load() }

// mint signs claims with a real key through jwx.
func mint(t testing.TB, alg string, k jwk.Key, claims map[string]any) string {
	t.Helper()
	s, err := Mint(claims, alg, k)
	if err != nil {
		t.Fatalf("Mint(%s): %v", alg, err)
	}
	return s
}

// craft builds a token by hand from a header and claims, the way an
// attacker would, signing with sign (nil: empty signature).
func craft(t testing.TB, hdr, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	in := strictB64.EncodeToString(hb) + "." + strictB64.EncodeToString(cb)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + strictB64.EncodeToString(sig)
}

func rs256Signer(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return s
	}
}

func hs256Signer(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// rsaPublicPEM is what an attacker would use as an HMAC secret in the RS/HS
// confusion attack: the issuer's public key, as published.
func rsaPublicPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

type rsaPrivateKey = rsa.PrivateKey

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, p string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, b)
}
