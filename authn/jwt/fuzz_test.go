package jwt

import (
	"strings"
	"testing"
	"unicode/utf8"
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
