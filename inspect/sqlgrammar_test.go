package inspect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSQLGrammar(t *testing.T) {
	attacks := []struct{ in, rule string }{
		// Fragments libinjection lets through (PayloadsAllTheThings lines).
		{" ORDER BY 3-- ", "order by"},
		{" ORDER BY 31337", "order by"},
		{"1 ORDER BY 1#", "order by"},
		{" AND 1=1", "tautology"},
		{" OR x=y-- ", "tautology"},
		{" AND 1083=1083 AND (1427=1427", "tautology"},
		{" HAVING 1=1#", "having 1"},
		{" waitfor delay '0:0:20' --", "waitfor delay"},
		{"));waitfor delay '0:0:5'--", "stacked statement"},
		{"select @@version", "select @"},
		{"1 exec master..xp_cmdshell 'dir'", "exec master"},
		{"or benchmark(50000000,MD5(1))#", "function benchmark"},
		{"1 and (select substring(@@version,1,1))='M'", "server variable"},
		{"' grant connect to name; grant resource to name; --", "grant connect"},
		{"select * from pg_group;", "select *"},
		{"AND false--", "boolean"},
		{"' OR '1", "boolean"},
		{"admin' or 'a'='a", "tautology"},
		{"x' AND 1=1 AND 'y'='y", "tautology"},
		{"1' || '1'='1", "tautology"},
		{"1') UNION SELECT null--", "union select"},
		{"1 UnIoN/**/SeLeCt/**/password/**/FrOm/**/users", "union select"},
		{"1/*!50000union*//*!50000select*/1", "union select"},
		{"x'; DROP TABLE users;--", "stacked statement"},
		{"name'#", "quote break"},
		{"admin'--", "quote break"},
		{"x') LIMIT 1-- ", "quote break"},
		{"sleep(5)", "function sleep"},
		{"1-sleep/**/(5)", "function sleep"},
		{"version()", "function version"},
		{"x' RLIKE (SELECT 1)", "quote break"},
		{"' or 1 in (1)", "tautology"},
		{"' or x is null--", "tautology"},
		{"1 and 'a' like 'a", "tautology"},
		{"@@hostname", "server variable"},
	}
	for _, tc := range attacks {
		t.Run("attack "+tc.in, func(t *testing.T) {
			// rule is the first rule that fires (the label only goes to the log).
			if _, ok := SQLGrammar(tc.in); !ok {
				t.Fatalf("SQLGrammar(%q) = clean, want flagged (%s)", tc.in, tc.rule)
			}
		})
	}
	benign := []string{
		"O'Brien", "o'brien-and-sons", "select-chair", "select chair", "order-by-date", "Tom and Jerry",
		"rock 'n' roll", "Rock 'n' Roll", "d'Artagnan's", "C#", "F# (language)", "AT&T", "Ben & Jerry's",
		"Procter & Gamble", "john.doe+news@example.com", "+1-555-0100", "50% off", "v1.2.3", "2024-01-01T00:00:00Z",
		"Côte d'Ivoire", "America/Port-au-Prince", "Dumont-d'Urville", "release-2.0--rc1", "a=b", "1=1",
		"x-or-y", "Union Square", "the union", "Sleep Number", "sleep well", "version 2 (beta)",
		"Deleted from archive", "user (for example alice)",
		"\"#0000FF\"", "it's 5 o'clock", "between 1 and 10", "1 or 2 items", "who's on first; who's next",
		"Don't select-all", "count (approx.)", "SELECT", "insert coin", "drop shipping", "update-now",
		"McDonald's", "L'Oréal", "Jack 'n' Jill -- the remix", "50/50", "user@@example", "10 or more",
	}
	for _, s := range benign {
		t.Run("benign "+s, func(t *testing.T) {
			if rule, ok := SQLGrammar(s); ok {
				t.Fatalf("SQLGrammar(%q) = %q, want clean", s, rule)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // one of the variants
	}{
		{"double percent-encoding", "1%27%20OR%20%271%27%3D%271", "1' OR '1'='1"},
		{"triple percent-encoding", "1%2527%2520OR%2520%25271", "1' OR '1"},
		{"iis %u00XX", "1%u0027 OR 1=1", "1' OR 1=1"},
		{"overlong utf-8 quote", "1%c0%a7 OR 1=1", "1' OR 1=1"},
		{"plus as space", "1'+OR+'1'='1", "1' OR '1'='1"},
		{"full-width quote and equals", "1\uff07 OR \uff071\uff07\uff1d\uff071", "1' OR '1'='1"},
		{"typographic quotes", "\u2019 or \u20181\u2019=\u20191", "' or '1'='1"},
		{"prime", "1\u2032) and '1\u2032='1", "1') and '1'='1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Variants(tc.in, nil)
			for _, v := range got {
				if v == tc.want {
					return
				}
			}
			t.Fatalf("Variants(%q) = %q, want it to include %q", tc.in, got, tc.want)
		})
	}
	for _, s := range []string{"plain", "O'Brien", "caf\u00e9"} {
		if got := Variants(s, nil); len(got) != 0 {
			t.Errorf("Variants(%q) = %q, want none", s, got)
		}
	}
}

// TestChecksDecodedVariants: the SQL checks see what an upstream that
// decodes once more, or folds Unicode, would see; the finding says so.
func TestChecksDecodedVariants(t *testing.T) {
	for _, in := range []string{
		"1%27%20UNION%20SELECT%20password%20FROM%20users--",
		"1%2527%2520UNION%2520SELECT%2520password%2520FROM%2520users--",
		"1\uff07 OR \uff071\uff07\uff1d\uff071",
		"1\u2019 OR \u20181\u2019=\u20181",
	} {
		f, ok := Default.String(in)
		if !ok || f.Kind != SQLi || !f.Decoded {
			t.Errorf("Default.String(%q) = %+v, %v; want SQLi on a decoded variant", in, f, ok)
		}
	}
	ident := Checks{SQLi: true, SQLGrammar: true}
	f, ok := ident.String("%20ORDER%20BY%203--%20")
	if !ok || f.Rule == "" || !f.Decoded {
		t.Errorf("identifier check of encoded ORDER BY = %+v, %v; want grammar rule on a decoded variant", f, ok)
	}
	if _, ok := Default.String(" ORDER BY 3-- "); ok {
		t.Errorf("Default (free string) flags ORDER BY without the grammar check; the test premise changed")
	}
	if f, ok := ident.String(" ORDER BY 3-- "); !ok || f.Rule != "order by" {
		t.Errorf("identifier check of ORDER BY = %+v, %v; want rule order by", f, ok)
	}
}

// FuzzSQLGrammar: any input terminates without panic, the verdict is
// deterministic, a value with no SQL punctuation or whitespace is never
// flagged, and the token count is bounded.
func FuzzSQLGrammar(f *testing.F) {
	for _, s := range []string{"O'Brien", "' OR '1'='1", " ORDER BY 3--", "select @@version", "sleep/**/(5)",
		"/*!50000union*/", "'\"`", "--", "#", "((((", "1e", "0x", "\xc0\xa7", "\uff07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rule, ok := SQLGrammar(s)
		rule2, ok2 := SQLGrammar(s)
		if ok != ok2 || rule != rule2 {
			t.Fatalf("SQLGrammar(%q) not deterministic: %q %v, %q %v", s, rule, ok, rule2, ok2)
		}
		if ok && rule == "" {
			t.Fatalf("SQLGrammar(%q) flagged without a rule", s)
		}
		if ok && !sqlCandidate(s) {
			t.Fatalf("SQLGrammar(%q) flagged a value the prefilter clears", s)
		}
		if n := len(lexSQL(s, nil)); n > maxSQLTokens {
			t.Fatalf("lexSQL(%q) = %d tokens, above the bound %d", s, n, maxSQLTokens)
		}
		vs := Variants(s, nil)
		if len(vs) > maxVariants {
			t.Fatalf("Variants(%q) = %d variants, above %d", s, len(vs), maxVariants)
		}
		for _, v := range vs {
			if v == s {
				t.Fatalf("Variants(%q) returned the input unchanged", s)
			}
		}
		if utf8.ValidString(s) {
			Default.String(s) // must not panic
		}
	})
}

// TestLexSQLUnclosedQuotes: many quotes, doubled or escaped, stay within
// the token bound and do not hide what follows them (the cost is
// BenchmarkSQLGrammarQuotes).
func TestLexSQLUnclosedQuotes(t *testing.T) {
	s := "x" + strings.Repeat("\\'", 2000) + "'"
	toks := lexSQL(s, nil)
	if len(toks) > maxSQLTokens {
		t.Fatalf("lexSQL: %d tokens, above %d", len(toks), maxSQLTokens)
	}
	if rule, ok := SQLGrammar(strings.Repeat("''", 3000) + "' OR 1=1"); !ok {
		t.Errorf("SQLGrammar(quotes + ' OR 1=1) = clean (%q), want flagged", rule)
	}
}

// BenchmarkSQLGrammarQuotes is the worst case for the lexer: a 64 KiB
// value of escaped quotes that never close (83 µs; 17.4 ms when each
// quote rescanned to the end, before the lexer remembered it).
func BenchmarkSQLGrammarQuotes(b *testing.B) {
	s := "x" + strings.Repeat(`\'`, 32768)
	b.SetBytes(int64(len(s)))
	for i := 0; i < b.N; i++ {
		SQLGrammar(s)
	}
}
