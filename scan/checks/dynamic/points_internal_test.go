package dynamic

import "testing"

// TestReservedCookie: the session, CSRF and credential cookies of the
// common frameworks are never injection points (a probe there logs the
// identity out or trips CSRF, and tests nothing); ordinary preference and
// filter cookies are.
func TestReservedCookie(t *testing.T) {
	for _, name := range []string{
		"PHPSESSID", "JSESSIONID", "connect.sid", "ASP.NET_SessionId", "laravel_session",
		"_session_id", "sessionid", "csrftoken", "XSRF-TOKEN", "_csrf", "ci_session",
		"PLAY_SESSION", "rack.session", "express:sess", "__Host-session", "app_session",
		"__Secure-next-auth.session-token", "remember_token", "access_token", "refresh_token",
		"id_token", "jwt", "auth", "AUTH_TOKEN", "api_key", "apikey", "password", "sid",
	} {
		if !reservedCookie(name) {
			t.Errorf("reservedCookie(%q) = false: a session or credential cookie would be probed", name)
		}
	}
	for _, name := range []string{"region", "lang", "theme", "currency", "tz", "sort", "view", "country"} {
		if reservedCookie(name) {
			t.Errorf("reservedCookie(%q) = true: an ordinary cookie would not be probed", name)
		}
	}
}
