package jwt

import (
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/authn"
)

func TestParseTokenSource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TokenSource
		err  bool
	}{
		{"", TokenSource{}, false},
		{"Bearer", TokenSource{}, false},
		{"header:Authorization", TokenSource{}, false},
		{"header:x-token", TokenSource{Kind: Header, Name: "X-Token"}, false},
		{"cookie:session", TokenSource{Kind: Cookie, Name: "session"}, false},
		{"query:access_token", TokenSource{Kind: Query, Name: "access_token"}, false},
		{"query:", TokenSource{}, true},
		{"body:token", TokenSource{}, true},
		{"header", TokenSource{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTokenSource(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseTokenSource(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
			}
			if err == nil {
				if back, _ := ParseTokenSource(got.String()); back != got {
					t.Errorf("round trip of %v = %v", got, back)
				}
			}
		})
	}
}

func TestHeaderAndQuerySources(t *testing.T) {
	hdr := func(io *IssuerOptions, _ *Options) { io.Source = TokenSource{Kind: Header, Name: "X-Token"} }
	e := newEnv(t, hdr)
	tok := mint(t, "ES256", e.k.ec, e.claims())
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Token", tok)
	check(t, e.a, r, "")
	// The same token as a bearer token: nobody reads that carrier.
	if _, err := e.a.Authenticate(bearer(tok)); err != authn.ErrNoCredentials {
		t.Fatalf("bearer to a header-source issuer = %v, want ErrNoCredentials", err)
	}
	// Header plus bearer: two tokens.
	r2 := bearer(tok)
	r2.Header.Set("X-Token", tok)
	check(t, e.a, r2, authn.ReasonMultipleTokens)

	q := newEnv(t, func(io *IssuerOptions, _ *Options) { io.Source = TokenSource{Kind: Query, Name: "access_token"} })
	r3 := httptest.NewRequest("GET", "/?access_token="+tok, nil)
	check(t, q.a, r3, "")
	r4 := httptest.NewRequest("GET", "/?access_token="+tok+"&access_token="+tok, nil)
	check(t, q.a, r4, authn.ReasonMultipleTokens)
}
