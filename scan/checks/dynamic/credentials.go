package dynamic

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// loginOpFields returns the username and password field names of login
// operation op: those of a scan identity that logs in through it, else the
// string fields of its request body that look like them; "" when op has
// none.
func loginOpFields(t *scan.Target, op *openapi.Operation) (user, pass string) {
	for _, id := range t.Identities {
		if id.LoginOp == op.ID && len(id.LoginFields) > 0 {
			if u, p := loginFields(id.LoginFields); u != "" && p != "" {
				return u, p
			}
		}
	}
	body := t.Prepare(op, nil).BodyMap()
	fields := map[string]string{}
	for k, v := range body {
		if s, ok := v.(string); ok {
			fields[k] = s
		}
	}
	return loginFields(fields)
}

// scanUsernames returns the usernames (lower-cased) the scan's own
// identities log in with: credential guessing leaves them alone, so that a
// lockout never hits the accounts the scan runs as.
func scanUsernames(t *scan.Target) map[string]bool {
	out := map[string]bool{}
	for _, id := range t.Identities {
		if u, _ := loginFields(id.LoginFields); u != "" {
			out[strings.ToLower(id.LoginFields[u])] = true
		}
	}
	return out
}

// randomTag returns a fresh "ghscan<hex>" string for throwaway names and
// wrong passwords.
func randomTag() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ghscan" + hex.EncodeToString(b[:])
}

// sessionCookieNames are cookie names (lower-case) that carry a session or
// a credential; a name containing one of sessionCookieParts counts too.
var sessionCookieNames = map[string]bool{"sid": true, "connect.sid": true, "phpsessid": true, "jsessionid": true,
	"asp.net_sessionid": true, "aspsessionid": true, "jwt": true, "auth": true, "token": true}

var sessionCookieParts = []string{"session", "sess", "token", "auth", "jwt", "sid", "login", "remember"}

// sessionCookie reports whether a cookie named name looks like it carries a
// session or a credential.
func sessionCookie(name string) bool {
	l := strings.ToLower(name)
	if sessionCookieNames[l] {
		return true
	}
	for _, p := range sessionCookieParts {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// sessionCookies returns the session-like cookies ex sets with a value
// (a cookie set to "" or expired clears a session: not counted).
func sessionCookies(ex *scan.Exchange) []*http.Cookie {
	if ex == nil {
		return nil
	}
	var out []*http.Cookie
	for _, line := range ex.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || !sessionCookie(c.Name) || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

// pluralN returns "s" unless n is 1.
func pluralN(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
