package inspect

import "testing"

// benchValues are typical parameter values: a slug (the grammar's
// prefilter clears it), a punctuated name and a sentence of prose.
var benchValues = []struct{ name, v string }{
	{"slug", "oak-dining-chair-2"},
	{"name", "O'Brien & Sons (Dublin) 50% + 1"},
	{"prose", "Returns the droplet's \u201cpublic\u201d IPv4 address; use the `v2/droplets/{id}` endpoint -- see docs for more (if any)."},
}

// BenchmarkString compares the default checks of a free-form string with
// the identifier checks (default plus the SQL grammar).
func BenchmarkString(b *testing.B) {
	ident := Default
	ident.SQLGrammar = true
	for _, c := range []struct {
		name string
		c    Checks
	}{{"default", Default}, {"identifier", ident}} {
		for _, bv := range benchValues {
			b.Run(c.name+"/"+bv.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, bad := c.c.String(bv.v); bad {
						b.Fatalf("%q flagged", bv.v)
					}
				}
			})
		}
	}
}
