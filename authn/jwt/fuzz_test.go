package jwt

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse/gatehouse/authn"
)

// FuzzParse drives the attacker-facing front of token processing: it must
// never panic, never accept more than MaxTokenSize bytes or a token without
// exactly three segments, and never let alg "none" or a key-carrying header
// through.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYTEifQ.eyJzdWIiOiJhIn0.c2ln",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
		"eyJhbGciOiJIUzI1NiIsImprdSI6Imh0dHA6Ly9ldmlsIn0.e30.c2ln",
		"a.b.c.d", "....", "", ".", "..", "e30.e30.e30",
		"eyJhbGciOiJSUzI1NiIsImFsZyI6Im5vbmUifQ.e30.c2ln",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := parse(tok)
		if err != nil {
			if p != nil {
				t.Fatal("parse returned a result with an error")
			}
			return
		}
		if len(tok) > MaxTokenSize || strings.Count(tok, ".") != 2 {
			t.Fatalf("parse accepted %d bytes with %d dots", len(tok), strings.Count(tok, "."))
		}
		if strings.EqualFold(strings.TrimSpace(p.header.Alg), "none") {
			t.Fatalf("parse accepted alg %q", p.header.Alg)
		}
		hb, _ := b64(strings.Split(tok, ".")[0])
		for _, h := range forbiddenHeaders {
			if strings.Contains(string(hb), `"`+h+`"`) && utf8.Valid(hb) && !strings.Contains(string(hb), `\`) {
				t.Fatalf("parse accepted header with %q: %s", h, hb)
			}
		}
	})
}

// FuzzAuthenticate sends arbitrary Authorization headers, query strings and
// cookies through the whole authenticator (extraction, parsing, key lookup,
// verification): it must never panic and never accept a token it did not
// see signed by a trusted key.
func FuzzAuthenticate(f *testing.F) {
	k := keys(f)
	valid := mint(f, "EdDSA", k.ed, map[string]any{"iss": "fz", "sub": "a", "exp": 4102444800})
	f.Add("Bearer "+valid, "", "")
	f.Add("bearer "+valid, "access_token=x", "")
	f.Add("Bearer a.b.c", "", "s=a.b.c")
	f.Add("Basic YWxpY2U6cHc=", "access_token="+valid, "")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJmeiIsInN1YiI6ImEifQ.", "", "")
	set, _, err := NewKeySet(mustSet(f, k.ed))
	if err != nil {
		f.Fatal(err)
	}
	is, _ := NewIssuer(IssuerOptions{Issuer: "fz", Algorithms: []string{"EdDSA", "HS256"}, Keys: Static{set}, HMACSecret: k.secret})
	cis, _ := NewIssuer(IssuerOptions{Issuer: "fz", Algorithms: []string{"EdDSA"}, Keys: Static{set}, Source: TokenSource{Kind: Cookie, Name: "s"}})
	a, _ := New(Options{Issuers: []*Issuer{is, cis}, CacheSize: 16})
	f.Fuzz(func(t *testing.T, authz, query, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", authz)
		r.URL.RawQuery = query
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		p, err := a.Authenticate(r)
		if err != nil {
			return
		}
		if p == nil || p.Subject != "a" || !strings.Contains(authz+cookie, valid) {
			t.Fatalf("accepted a token that is not the signed one: %+v", p)
		}
	})
}

func mustSet(t testing.TB, ks ...jwk.Key) jwk.Set {
	set := jwk.NewSet()
	for _, k := range ks {
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		_ = set.AddKey(pub)
	}
	return set
}

// FuzzSubject drives the subject-claim reader over attacker-chosen claim
// sets: it must never panic, and whatever it accepts is either the claim's
// string or a canonical int64 decimal that round-trips exactly.
func FuzzSubject(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"alice"}`, `{"user_id":42}`, `{"user_id":-7}`, `{"user_id":0}`, `{"user_id":-0}`,
		`{"user_id":42.0}`, `{"user_id":4.2e1}`, `{"user_id":9223372036854775808}`, `{"user_id":[1]}`,
		`{"user_id":null}`, `{"user_id":true}`, `{"user_id":""}`, `{"user":{"id":7}}`, `{"user.id":"x"}`,
		`{"user_id":"a","user_id":"b"}`, `{"user_id":00}`, `{"user_id":"\u0000"}`,
	} {
		f.Add(s, "user_id")
		f.Add(s, "user.id")
	}
	f.Fuzz(func(t *testing.T, payload, claim string) {
		raw, err := decodeObject([]byte(payload))
		if err != nil {
			return
		}
		sub, err := subject(raw, claim)
		if err != nil {
			if r := authn.Reason(err); r != authn.ReasonMissingSubject && r != authn.ReasonInvalidSubject {
				t.Fatalf("subject error reason %q", r)
			}
			return
		}
		if sub == "" {
			t.Fatal("empty subject accepted")
		}
		v := raw[claim]
		if len(v) > 0 && v[0] != '"' {
			n, err := strconv.ParseInt(sub, 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != sub {
				t.Fatalf("numeric subject %q is not a canonical int64", sub)
			}
		}
	})
}
