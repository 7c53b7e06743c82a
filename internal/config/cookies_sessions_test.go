package config

import (
	"strings"
	"testing"
)

// TestCookieSessionsValidate: each bad cookies.sessions setting is one
// error at its path; a good one none.
func TestCookieSessionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    CookieSessions
		want []string // paths of errors ("warning " prefix for warnings)
	}{
		{"good", CookieSessions{Names: []string{"sid", "__Host-session"}, LogoutOperations: []string{"logout"}, Bind: []string{"ip", "user_agent"}}, nil},
		{"bad name", CookieSessions{Names: []string{"s id", ""}, LogoutOperations: []string{"logout"}}, []string{"cookies.sessions.names[0]", "cookies.sessions.names[1]"}},
		{"no names", CookieSessions{LogoutOperations: []string{"logout"}}, []string{"cookies.sessions.names"}},
		{"names only", CookieSessions{Names: []string{"sid"}}, []string{"warning cookies.sessions"}},
		{"bad bind", CookieSessions{Names: []string{"sid"}, Bind: []string{"tls_session"}}, []string{"cookies.sessions.bind[0]"}},
		{"bad prefixes and ttl", CookieSessions{Names: []string{"sid"}, Bind: []string{"ip"}, IPv4Prefix: 33, IPv6Prefix: -1, MaxTTL: -1},
			[]string{"cookies.sessions.max_ttl", "cookies.sessions.ipv4_prefix", "cookies.sessions.ipv6_prefix"}},
		{"require without bind", CookieSessions{Names: []string{"sid"}, LogoutOperations: []string{"logout"}, RequireBinding: true}, []string{"cookies.sessions.require_binding"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Problems
			c := Cookies{Sessions: tc.s}
			c.validate(&p, "cookies")
			var got []string
			for _, pr := range p.List {
				if pr.Warning {
					got = append(got, "warning "+pr.Path)
				} else {
					got = append(got, pr.Path)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("problems %v, want at %q", p.List, tc.want)
			}
		})
	}
}
