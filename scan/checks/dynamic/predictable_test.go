package dynamic_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// fakeJWT builds an HS256-looking JWT with claims (the signature is random:
// these tests judge the tokens, nobody verifies them).
func fakeJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	var sig [32]byte
	_, _ = rand.Read(sig[:])
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c) + "." + b64.EncodeToString(sig[:])
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func TestPredictableTokens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  func(n int, user string) string
		cookie string // Set-Cookie of the login, %s the token
		want   string // param; "" = silent
		sev    scan.Severity
		reason string
	}{
		{name: "sequential", token: func(n int, _ string) string { return fmt.Sprintf("sess-%d", 1000+n) }, want: "token", sev: scan.High, reason: "grows with each login"},
		{name: "millisecond timestamp with a fixed tail", token: func(n int, _ string) string { return fmt.Sprintf("%d-mila", 1765080000000+int64(n)*7) }, want: "token", sev: scan.High, reason: "a counter or a timestamp"},
		{name: "24 random bits", token: func(int, string) string { return "tok-" + randHex(6) }, want: "token", sev: scan.Medium, reason: "about 24 bits"},
		{name: "the same token for every login", token: func(int, string) string { return "static-0123456789abcdef0123456789abcdef" }, want: "token", sev: scan.Low, reason: "the same value"},
		{name: "random session cookie", token: func(n int, _ string) string { return randHex(32) }, cookie: "sid=%s; Path=/; Secure; HttpOnly; SameSite=Lax"},
		{name: "JWT with a sequential jti", token: func(n int, u string) string {
			return fakeJWT(map[string]any{"sub": u, "iat": 1765080000 + n, "jti": fmt.Sprint(77 + n)})
		}, want: "token", sev: scan.High, reason: "jti claim"},
		{name: "JWT differing only by iat", token: func(n int, u string) string {
			return fakeJWT(map[string]any{"sub": u, "iat": 1765080000 + n, "exp": 1765083600 + n})
		}},
		{name: "the same JWT for every login", token: func(int, string) string {
			return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtaWxhIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0xMjM0NTY3ODkw"
		}},
		{name: "JWT with a random jti", token: func(n int, u string) string {
			return fakeJWT(map[string]any{"sub": u, "iat": 1765080000 + n, "jti": randHex(32)})
		}},
		{name: "128 random bits"},
		{name: "base64url session id", token: func(int, string) string { return strings.TrimRight(b64.EncodeToString([]byte(randHex(24))), "=") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newCredAPI(map[string]string{})
			api.Token, api.Cookie = tc.token, tc.cookie
			res := scanCreds(t, api, false, dynamic.PredictableTokens{})
			if tc.want == "" {
				for _, f := range res.Findings {
					t.Errorf("false positive: %s %s", f.Param, f.Detail)
				}
			} else {
				if len(res.Findings) != 1 {
					t.Fatalf("findings %+v, want one", res.Findings)
				}
				f := res.Findings[0]
				if f.Param != tc.want || f.Severity != tc.sev || !strings.Contains(f.Detail, tc.reason) || f.Operation != "login" {
					t.Errorf("finding %s %s|%s: %s; want %s %s %q", f.Severity, f.Operation, f.Param, f.Detail, tc.sev, tc.want, tc.reason)
				}
			}
			if n := res.Checks[0].Requests; n != dynamic.TokenSamples+1 {
				t.Errorf("%d requests, want %d logins", n, dynamic.TokenSamples+1)
			}
		})
	}
	t.Run("sequential token in the body and a cookie", func(t *testing.T) {
		api := newCredAPI(map[string]string{})
		api.Token = func(n int, _ string) string { return fmt.Sprint(500 + n) }
		api.Cookie = "sid=%s; Path=/; Secure; HttpOnly; SameSite=Lax"
		res := scanCreds(t, api, false, dynamic.PredictableTokens{})
		if got := findingKeys(res.Findings); len(got) != 2 || !got["login|token"] || !got["login|cookie sid"] {
			t.Errorf("findings %v, want login|token and login|cookie sid", keys(got))
		}
	})
	t.Run("throttled after 2 logins: no verdict", func(t *testing.T) {
		api := newCredAPI(map[string]string{})
		api.Token = func(n int, _ string) string { return fmt.Sprint(n) }
		api.MaxLogins = 3 // the scan's own login, then 2
		res := scanCreds(t, api, false, dynamic.PredictableTokens{})
		if len(res.Findings) != 0 {
			t.Errorf("verdict on 2 samples: %s", res.Findings[0].Detail)
		}
		if c := res.Checks[0]; c.Status != "skipped" || !strings.Contains(c.Skipped, "no verdict") {
			t.Errorf("status %s (%s), want skipped", c.Status, c.Skipped)
		}
	})
}
