package dynamic

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan"
)

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

// TestGranted: which 2xx answers are real successes. The failures are the
// 200-on-failure styles of Node, Python and PHP APIs; the successes carry
// data beside words that look like failure.
func TestGranted(t *testing.T) {
	for body, want := range map[string]bool{
		`{"success":false,"message":"Please log in"}`: false,
		`{"ok":false}`:                                               false,
		`{"success":"false","data":null}`:                            false,
		`{"status":"fail","data":{"token":"required"}}`:              false,
		`{"status":"error","message":"x"}`:                           false,
		`{"error":"jwt malformed","code":40101}`:                     false,
		`{"errors":[{"msg":"bad"}],"timestamp":"2026-01-01"}`:        false,
		`{"message":"No token provided"}`:                            false,
		`{"message":"Unauthenticated."}`:                             false,
		`{"detail":"Authentication credentials were not provided."}`: false, // DRF's words (it sends them with 401/403)
		`{"message":"You must be logged in"}`:                        false,
		`{"message":"Token expired"}`:                                false,
		`{"success":true,"data":{"id":1}}`:                           true,
		`{"id":1,"error":null,"errors":[]}`:                          true,
		`{"id":7,"error":"","status":"active"}`:                      true,
		`{"data":{"id":1},"errors":[{"msg":"partial"}]}`:             true,
		`{"message":"deleted"}`:                                      true,
		`[{"id":1}]`:                                                 true,
		`{"status":"ok","items":[]}`:                                 true,
		`not json`:                                                   true,
	} {
		ex := &scan.Exchange{Status: 200, Body: []byte(body)}
		if got := granted(ex); got != want {
			t.Errorf("granted(200 %s) = %v, want %v", body, got, want)
		}
	}
	if granted(&scan.Exchange{Status: 401, Body: []byte(`{"id":1}`)}) {
		t.Error("granted(401) = true")
	}
}

// TestSameData: an anonymous 200 counts as access only with the data the
// identity gets.
func TestSameData(t *testing.T) {
	ref := &scan.Exchange{Status: 200, Body: []byte(`{"id":"a1b2","owner":"alice","text":"alice's note"}`)}
	for body, want := range map[string]bool{
		`{"id":"a1b2","owner":"alice","text":"alice's note"}`: true,
		`[]`:                          false,
		`{"message":"hello"}`:         false,
		`{"success":false}`:           false,
		`{"message":"Please log in"}`: false,
	} {
		if got := sameData(&scan.Exchange{Status: 200, Body: []byte(body)}, ref); got != want {
			t.Errorf("sameData(%s) = %v, want %v", body, got, want)
		}
	}
	if !sameData(&scan.Exchange{Status: 200, Body: []byte(`{"x":1}`)}, nil) {
		t.Error("sameData without a reference: a real success must count")
	}
}
