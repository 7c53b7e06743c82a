package jwt

import (
	"net/http/httptest"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// BenchmarkAuthenticate measures the per-request cost of JWT
// authentication, with and without the verified-token cache, for RS256 and
// ES256 (the memory revocation check included in both).
func BenchmarkAuthenticate(b *testing.B) {
	k := keys(b)
	for _, alg := range []struct {
		name string
		key  jwk.Key
	}{{"RS256", k.rsa}, {"ES256", k.ec}} {
		for _, cached := range []bool{false, true} {
			name := alg.name + "/nocache"
			if cached {
				name = alg.name + "/cache"
			}
			b.Run(name, func(b *testing.B) {
				e := newEnvB(b, cached)
				tok := mint(b, alg.name, alg.key, e.claims())
				r := httptest.NewRequest("GET", "/orders", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				if _, err := e.a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := e.a.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
