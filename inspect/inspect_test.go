package inspect

import "testing"

func TestChecks(t *testing.T) {
	all := Checks{SQLi: true, XSS: true, NoSQL: true, Shell: true, Traversal: true}
	tests := []struct {
		name string
		c    Checks
		in   string
		want Kind // "" = clean
	}{
		{"sqli tautology", Default, "1' OR '1'='1", SQLi},
		{"sqli union", Default, "1 UNION SELECT username, password FROM users--", SQLi},
		{"sqli comment", Default, "admin'--", SQLi},
		{"xss script", Default, "<script>alert(1)</script>", XSS},
		{"xss handler", Default, `<img src=x onerror=alert(1)>`, XSS},
		{"xss javascript url", Default, `<a href="javascript:alert(1)">x</a>`, XSS},
		{"nosql operator json", Default, `{"$ne": null}`, NoSQL},
		{"nosql bracket", Default, `[$regex]=.*`, NoSQL},
		{"nosql where js", Default, `'; return this.password.match(/.*/) //`, NoSQL},
		{"nosql js tautology", Default, `' || 'a'=='a`, NoSQL},
		{"prose apostrophes", Default, "It's Newton's theory, isn't it? O'Brien's café", ""},
		{"price with dollar", Default, "costs $5 or $10", ""},
		{"prose semicolon", Default, "first; second & third", ""},
		{"shell off by default", Default, "a; rm -rf /", ""},
		{"shell chain", Checks{Shell: true}, "example.com; cat /etc/passwd", Shell},
		{"shell subst", Checks{Shell: true}, "$(id)", Shell},
		{"shell backtick", Checks{Shell: true}, "`id`", Shell},
		{"shell var", Checks{Shell: true}, "${IFS}", Shell},
		{"shell newline", Checks{Shell: true}, "a\nid", Shell},
		{"shell clean host", Checks{Shell: true}, "db-1.example.com", ""},
		{"traversal plain", Checks{Traversal: true}, "../../etc/passwd", Traversal},
		{"traversal backslash", Checks{Traversal: true}, `..\..\windows\win.ini`, Traversal},
		{"traversal encoded", Checks{Traversal: true}, "%2e%2e%2fetc%2fpasswd", Traversal},
		{"traversal double encoded", Checks{Traversal: true}, "%252e%252e%252fetc", Traversal},
		{"traversal broken double encoding", Checks{Traversal: true}, "%%32%65%%32%65/etc", Traversal},
		{"traversal overlong", Checks{Traversal: true}, "%c0%ae%c0%ae/etc", Traversal},
		{"traversal nul", Checks{Traversal: true}, "report.pdf\x00.png", Traversal},
		{"traversal clean", Checks{Traversal: true}, "reports/2024/q1.pdf", ""},
		{"traversal absolute", Checks{Traversal: true}, "/etc/passwd", Traversal},
		{"traversal absolute encoded", Checks{Traversal: true}, "%2fetc%2fpasswd", Traversal},
		{"traversal absolute backslash", Checks{Traversal: true}, `\\host\share\x`, Traversal},
		{"traversal absolute full-width", Checks{Traversal: true}, "\uff0fetc\uff0fpasswd", Traversal},
		{"traversal drive letter", Checks{Traversal: true}, `C:\Windows\win.ini`, Traversal},
		{"traversal drive relative", Checks{Traversal: true}, "c:boot.ini", Traversal},
		{"traversal home", Checks{Traversal: true}, "~/.ssh/id_rsa", Traversal},
		{"traversal leading space absolute", Checks{Traversal: true}, " /etc/passwd", Traversal},
		{"traversal clean with colon later", Checks{Traversal: true}, "reports/q1:2024.pdf", ""},
		{"traversal clean dotfile name", Checks{Traversal: true}, "v1.2.pdf", ""},
		{"empty", all, "", ""},
		{"zero checks", Checks{}, "<script>alert(1)</script>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := tc.c.String(tc.in)
			if tc.want == "" {
				if ok {
					t.Fatalf("String(%q) = %v, want clean", tc.in, f.Kind)
				}
				return
			}
			if !ok || f.Kind != tc.want {
				t.Fatalf("String(%q) = %v, %v; want %v", tc.in, f.Kind, ok, tc.want)
			}
		})
	}
}

func TestQueryKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"password[$ne]", true}, {"user[name][$regex]", true}, {"a[ $gt ]", true},
		{"password", false}, {"items[0]", false}, {"a[b]", false}, {"$ne", false}, {"a[$", false},
	} {
		if got := QueryKey(tc.in); got != tc.want {
			t.Errorf("QueryKey(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestOperatorKeys(t *testing.T) {
	if !IsOperatorKey("$where") || !IsOperatorKey("$anything") || IsOperatorKey("name") {
		t.Error("IsOperatorKey")
	}
	if !IsKnownOperator("$NE") || IsKnownOperator("$foo") {
		t.Error("IsKnownOperator")
	}
}

func FuzzChecks(f *testing.F) {
	for _, s := range []string{"1' OR '1'='1", "<svg onload=alert(1)>", "%%32%65", `{"$ne":1}`, "a;b", "\xc0\xae"} {
		f.Add(s)
	}
	all := Checks{SQLi: true, XSS: true, NoSQL: true, Shell: true, Traversal: true}
	f.Fuzz(func(t *testing.T, s string) {
		all.String(s) // must not panic
		QueryKey(s)
		HasTraversal(s)
	})
}
