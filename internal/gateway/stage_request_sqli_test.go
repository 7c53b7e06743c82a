package gateway

import (
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestIdentifierSQLiThroughListener attacks the default pipeline over
// loopback with SQL injection that libinjection alone let through before
// the SQL-grammar check for identifiers and the decoded variants: one or
// more lines from each class of the PayloadsAllTheThings lists that were
// missed, sent as a path segment or a short (identifier) query value, and
// encodings an upstream decodes that the gateway's single decoding does
// not (double percent-encoding, full-width and typographic quotes). Each
// must be refused with the generic problem body and never reach the
// upstream; identifiers with quotes, hyphens and SQL words pass unchanged.
func TestIdentifierSQLiThroughListener(t *testing.T) {
	send := detectGateway(t)
	attacks := []struct {
		class, value string
		at           func(string) string
		libinjMissed bool // libinjection alone does not flag the value (the gap closed)
	}{
		{"ORDER BY column probe (payloads-sql-blind-MySQL-ORDER_BY)", " ORDER BY 3-- ", detectPlaces[0].target, true},
		{"ORDER BY without comment", " ORDER BY 31337", detectPlaces[1].target, true},
		{"AND tautology continuation (Generic_ErrorBased)", " AND 1=1", detectPlaces[0].target, true},
		{"OR comparison with comment (Generic_ErrorBased)", " OR x=y-- ", detectPlaces[3].target, true},
		{"HAVING probe", " HAVING 1=1#", detectPlaces[0].target, true},
		{"time-based WAITFOR (FUZZDB_MSSQL-WHERE_Time)", ")) waitfor delay '0:0:20' --", detectPlaces[0].target, true},
		{"blind MSSQL INSERT, line sent as is (upstream decodes %20)", "',NULL)%20waitfor%20delay%20'0:0:20'%20--", detectPlaces[3].target, true},
		{"time-based BENCHMARK (Generic_TimeBased)", "or benchmark(50000000,MD5(1))#", detectPlaces[0].target, true},
		{"server variable (FUZZDB_MSSQL_Enumeration)", "select @@version", detectPlaces[1].target, true},
		{"stacked statement", "x; drop table users", detectPlaces[3].target, false},
		{"double percent-encoded quote break", "1%27%20OR%20%271%27%3D%271", detectPlaces[2].target, true},
		{"double percent-encoded in path", "x%27%20UNION%20SELECT%20password%20FROM%20users--", detectPlaces[0].target, true},
		{"full-width quotes (NFKC / best fit)", "x\uff07 OR \uff071\uff07=\uff071", detectPlaces[0].target, true},
		{"typographic quotes (best fit)", "1\u2019 or \u20181\u2019=\u20181", detectPlaces[2].target, true},
		{"ORDER BY in a short query value", " ORDER BY 3#", detectPlaces[3].target, true},
	}
	for _, tc := range attacks {
		t.Run(tc.class, func(t *testing.T) {
			if ok, _ := libinjection.IsSQLi(tc.value); ok == tc.libinjMissed {
				t.Fatalf("premise: libinjection.IsSQLi(%q) = %v", tc.value, ok)
			}
			target := tc.at(tc.value)
			o := send(target)
			if o.forwarded {
				t.Fatalf("GET %s was forwarded to the upstream", target)
			}
			if o.status != 400 || o.stage != "request_validation" || !strings.HasPrefix(o.reason, "injection_sqli") {
				t.Fatalf("GET %s = %d (%s/%s), want 400 by SQLi detection", target, o.status, o.stage, o.reason)
			}
			if !strings.HasPrefix(o.ctype, "application/problem+json") {
				t.Errorf("GET %s content type %q, want the problem body", target, o.ctype)
			}
			low := strings.ToLower(o.body)
			for _, leak := range []string{"waitfor", "order by", "select", "benchmark", "@@", "1=1", "fingerprint", "grammar"} {
				if strings.Contains(low, leak) {
					t.Errorf("GET %s: body %q echoes %q", target, o.body, leak)
				}
			}
		})
	}
	benign := []struct{ name, value string }{
		{"select as a word in a slug", "select-chair"},
		{"apostrophe", "O'Brien"},
		{"and between words", "Tom and Jerry"},
		{"quotes in a name", "Rock 'n' Roll"},
		{"accent and apostrophe", "Côte d'Ivoire"},
		{"hash", "C#"},
		{"ampersand", "AT&T"},
		{"order as a word", "order-by-phone"},
		{"double dash in a version", "release-2.0--rc1"},
		{"typographic apostrophe", "L\u2019Or\u00e9al"},
		{"plus and percent", "50% + 1"},
	}
	for _, b := range benign {
		for _, p := range []place{detectPlaces[0], detectPlaces[1], detectPlaces[3]} {
			t.Run(p.name+" "+b.name, func(t *testing.T) {
				target := p.target(b.value)
				if o := send(target); !o.forwarded || o.status != 200 {
					t.Fatalf("GET %s = %d (%s/%s), want 200 and forwarded", target, o.status, o.stage, o.reason)
				}
			})
		}
	}
}
