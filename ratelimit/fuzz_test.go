package ratelimit

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAccounts feeds attacker-controlled login bodies to the account
// extractor: it must not panic, and returns 1..maxAccounts normalized names.
func FuzzAccounts(f *testing.F) {
	for _, s := range []string{`{"username":"bob"}`, `{"username":"a","username":"b"}`, `{"credentials":{"user":"x"}}`,
		`[{"username":1}]`, `{"username":{"$ne":null}}`, `{`, `username=bob&username=eve`, strings.Repeat("[", 100)} {
		f.Add(s, "/username", false)
		f.Add(s, "/credentials/user", true)
	}
	f.Fuzz(func(t *testing.T, body, field string, form bool) {
		ptr, err := parsePointer(field)
		if err != nil {
			return
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		if form {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		got := accounts(r, ptr, 1<<16)
		if len(got) < 1 || len(got) > maxAccounts {
			t.Fatalf("accounts = %q", got)
		}
		for _, a := range got {
			if a != strings.ToLower(strings.TrimSpace(a)) {
				t.Fatalf("account %q not normalized", a)
			}
		}
	})
}
