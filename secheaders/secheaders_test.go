package secheaders

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func upstream(ct string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.1")
		w.Header().Set("X-Powered-By", "PHP/5.3")
		w.Header().Set("X-AspNet-Version", "4.0")
		w.Header().Set("Cache-Control", "public, max-age=600")
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write([]byte("{}"))
	})
}

func TestStrict(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tls       bool
		ct        string
		cred      string
		wantHSTS  bool
		wantCSP   bool
		wantNoSto bool
	}{
		{"plain json", false, "application/json", "", false, true, true},
		{"tls json", true, "application/json; charset=utf-8", "", true, true, true},
		{"problem json", false, "application/problem+json", "", false, true, true},
		{"html keeps upstream csp choice", false, "text/html", "", false, false, true},
		{"authorization no-store", false, "application/json", "Authorization", false, true, true},
		{"cookie no-store", false, "application/json", "Cookie", false, true, true},
		{"api key no-store", false, "application/json", "X-Api-Key", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.cred != "" {
				r.Header.Set(tc.cred, "secret")
			}
			w := httptest.NewRecorder()
			Strict().Handler(upstream(tc.ct)).ServeHTTP(w, r)
			h := w.Result().Header
			for _, k := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
				if h.Get(k) != "" {
					t.Errorf("%s leaked: %q", k, h.Get(k))
				}
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != tc.wantHSTS {
				t.Errorf("HSTS present = %v, want %v", got, tc.wantHSTS)
			}
			if got := h.Get("Content-Security-Policy") == "default-src 'none'; frame-ancestors 'none'"; got != tc.wantCSP {
				t.Errorf("CSP = %q, want set=%v", h.Get("Content-Security-Policy"), tc.wantCSP)
			}
			if got := h.Get("Cache-Control") == "no-store"; got != tc.wantNoSto {
				t.Errorf("Cache-Control = %q, want no-store=%v", h.Get("Cache-Control"), tc.wantNoSto)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
				h.Get("Cross-Origin-Resource-Policy") != "same-origin" {
				t.Errorf("missing base headers: %v", h)
			}
		})
	}
}

func TestOff(t *testing.T) {
	w := httptest.NewRecorder()
	Off().Handler(upstream("application/json")).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Header().Get("Server") == "" || w.Header().Get("X-Content-Type-Options") != "" {
		t.Fatalf("off preset changed headers: %v", w.Header())
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "application/problem+json": true,
		"": true, "text/html": false, "application/jsonp": false, "text/json+html": false,
	} {
		if got := IsJSON(ct); got != want {
			t.Errorf("IsJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://app.example.com", "https://app.example.com", true},
		{"HTTPS://APP.Example.COM", "https://app.example.com", true},
		{"https://app.example.com:443", "https://app.example.com", true},
		{"http://app.example.com:80", "http://app.example.com", true},
		{"https://app.example.com:8443", "https://app.example.com:8443", true},
		{"https://app.example.com:0443", "", false},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"null", "", false},
		{"", "", false},
		{"https://app.example.com/path", "", false},
		{"https://user@app.example.com", "", false},
		{"https://app.example.com?x", "", false},
		{"https://app.example.com#x", "", false},
		{"https://app.example.com.", "", false},
		{"file://app.example.com", "", false},
		{"javascript:alert(1)", "", false},
		{"https://*.example.com", "", false},
		{"https://app.example.com\\@evil.com", "", false},
		{"https://app.example.com%2eevil.com", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := NormalizeOrigin(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizeOrigin(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func newCORS(t *testing.T, o CORSOptions) *CORS {
	t.Helper()
	c, err := NewCORS(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAllowOriginAttacks(t *testing.T) {
	c := newCORS(t, CORSOptions{AllowOrigins: []string{"https://app.example.com"}, AllowCredentials: true})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"https://APP.EXAMPLE.COM", true},
		{"https://app.example.com:443", true},
		{"https://app.example.com.evil.com", false},
		{"https://evilapp.example.com", false},
		{"https://evil.com/https://app.example.com", false},
		{"https://app.example.com@evil.com", false},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"https://app.example.co", false},
		{"null", false},
		{"", false},
		{"https://app.example.com ", false},
		{"https://app.example.com%00.evil.com", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			err := c.AllowOrigin(tc.origin)
			if (err == nil) != tc.ok {
				t.Fatalf("AllowOrigin(%q) = %v, want ok=%v", tc.origin, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrOriginNotAllowed) {
				t.Fatalf("AllowOrigin(%q) error %v is not ErrOriginNotAllowed", tc.origin, err)
			}
		})
	}
}

func TestNewCORSRefusesUnsafe(t *testing.T) {
	for name, o := range map[string]CORSOptions{
		"wildcard with credentials":  {AllowOrigins: []string{"*"}, AllowCredentials: true},
		"header wildcard with creds": {AllowOrigins: []string{"https://a.example"}, AllowHeaders: []string{"*"}, AllowCredentials: true},
		"null origin":                {AllowOrigins: []string{"null"}},
		"origin with path":           {AllowOrigins: []string{"https://a.example/x"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewCORS(o); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("NewCORS = %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestCORSHandler(t *testing.T) {
	c := newCORS(t, CORSOptions{
		AllowOrigins: []string{"https://app.example.com"}, AllowCredentials: true,
		AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"Authorization", "Content-Type"},
		ExposeHeaders: []string{"X-Request-Id"}, MaxAge: 600_000_000_000,
	})
	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		// a permissive upstream must not widen the policy
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "*")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})
	h := c.Handler(next)
	for _, tc := range []struct {
		name       string
		method     string
		hdr        map[string]string
		origins    []string
		wantStatus int
		wantACAO   string
		wantReach  bool
	}{
		{"preflight ok", "OPTIONS", map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"},
			[]string{"https://app.example.com"}, 204, "https://app.example.com", false},
		{"preflight evil origin", "OPTIONS", map[string]string{"Access-Control-Request-Method": "GET"},
			[]string{"https://app.example.com.evil.com"}, 403, "", false},
		{"preflight null origin", "OPTIONS", map[string]string{"Access-Control-Request-Method": "GET"},
			[]string{"null"}, 403, "", false},
		{"preflight bad method", "OPTIONS", map[string]string{"Access-Control-Request-Method": "DELETE"},
			[]string{"https://app.example.com"}, 403, "", false},
		{"preflight lowercase method", "OPTIONS", map[string]string{"Access-Control-Request-Method": "post"},
			[]string{"https://app.example.com"}, 403, "", false},
		{"preflight bad header", "OPTIONS", map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-evil"},
			[]string{"https://app.example.com"}, 403, "", false},
		{"simple allowed", "GET", nil, []string{"https://app.example.com"}, 200, "https://app.example.com", true},
		{"simple allowed default port", "GET", nil, []string{"https://app.example.com:443"}, 200, "https://app.example.com:443", true},
		{"simple evil", "GET", nil, []string{"https://evil.com"}, 200, "", true},
		{"two origins", "GET", nil, []string{"https://app.example.com", "https://evil.com"}, 200, "", true},
		{"no origin", "GET", nil, nil, 200, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(tc.method, "/x", nil)
			for _, o := range tc.origins {
				r.Header.Add("Origin", o)
			}
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Fatalf("ACAO = %q, want %q", got, tc.wantACAO)
			}
			if tc.wantACAO == "" {
				for k := range res.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("CORS header %s on a refused request", k)
					}
				}
			} else if res.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatal("credentials header missing")
			}
			if reached != tc.wantReach {
				t.Fatalf("next reached = %v, want %v", reached, tc.wantReach)
			}
			if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
				t.Fatalf("Vary: Origin missing: %v", res.Header)
			}
			if tc.name == "preflight ok" {
				if res.Header.Get("Access-Control-Max-Age") != "600" || res.Header.Get("Access-Control-Allow-Methods") != "GET, POST" {
					t.Fatalf("preflight headers: %v", res.Header)
				}
			}
			if tc.name == "simple allowed" && res.Header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
				t.Fatalf("expose headers: %v", res.Header)
			}
		})
	}
}

func TestCORSWildcard(t *testing.T) {
	c := newCORS(t, CORSOptions{AllowOrigins: []string{"*"}})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://anyone.example")
	c.Handler(upstream("application/json")).ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard headers: %v", w.Header())
	}
}

func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "HTTPS://A.B:443", "null", "http://[::1]:80", "https://a.b.evil", "https://a@b"} {
		f.Add(s)
	}
	c, _ := NewCORS(CORSOptions{AllowOrigins: []string{"https://app.example.com"}})
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeOrigin(s)
		if !ok {
			return
		}
		n2, ok2 := NormalizeOrigin(n)
		if !ok2 || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, n2)
		}
		if c.AllowOrigin(s) == nil && n != "https://app.example.com" {
			t.Fatalf("AllowOrigin(%q) allowed a different origin %q", s, n)
		}
	})
}

// Strict sets no-store on every response, credentials or not; a policy with
// only NoStoreWithCredentials keeps the old behaviour; Remove and Set run last.
func TestNoStoreAndEdits(t *testing.T) {
	p := Policy{NoStoreWithCredentials: true, Remove: []string{"X-Debug"}, Set: map[string]string{"X-Frame-Options": "DENY"}}
	for _, cred := range []string{"", "Authorization"} {
		r := httptest.NewRequest("GET", "/x", nil)
		if cred != "" {
			r.Header.Set(cred, "x")
		}
		w := httptest.NewRecorder()
		p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public")
			w.Header().Set("X-Debug", "1")
		})).ServeHTTP(w, r)
		h := w.Result().Header
		if want := map[bool]string{true: "no-store", false: "public"}[cred != ""]; h.Get("Cache-Control") != want {
			t.Errorf("credentials %q: Cache-Control = %q, want %q", cred, h.Get("Cache-Control"), want)
		}
		if h.Get("X-Debug") != "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("edits not applied: %v", h)
		}
	}
}
