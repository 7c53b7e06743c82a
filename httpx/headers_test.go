package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStripIdentityHeaders(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"X-Gatehouse-Subject", "x-gatehouse-roles", "X_Gatehouse_Sub", "X-GATEHOUSE-SCOPES", "x_gatehouse-mixed"} {
		h[k] = []string{"admin"}
	}
	h.Set("X-Gatehousex", "keep")
	h.Set("Authorization", "keep")
	if n := StripIdentityHeaders(h); n != 5 {
		t.Fatalf("StripIdentityHeaders removed %d, want 5: left %v", n, h)
	}
	if len(h) != 2 {
		t.Fatalf("left %v", h)
	}
}

func TestIsForwardingHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Forwarded-For": true, "x_forwarded_for": true, "FORWARDED": true, "X-Real-IP": true,
		"True-Client-IP": true, "X-Forwarded-Proto": true, "X-Forwarded-Fork": false, "Accept": false,
	} {
		if got := IsForwardingHeader(name); got != want {
			t.Errorf("IsForwardingHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSafeRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc": true, "0f3a-11_x.y": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "a b": false, "a\nb": false, `a"b`: false,
		"a/b": false, "é": false, "a\x00": false,
	} {
		if got := SafeRequestID(id); got != want {
			t.Errorf("SafeRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzSafeRequestID(f *testing.F) {
	for _, s := range []string{"abc", "a b", "a\nb", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !SafeRequestID(s) {
			return
		}
		if len(s) > 64 || strings.ContainsAny(s, " \t\r\n\"\\{}<>") {
			t.Fatalf("SafeRequestID(%q) accepted", s)
		}
	})
}

func TestBodyOverListenerLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 100)))
	w := httptest.NewRecorder()
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	_, err := Body(r.WithContext(WithBodyCache(r.Context())), 1000)
	var mbe *http.MaxBytesError
	if !errors.Is(err, ErrBodyTooLarge) || !errors.As(err, &mbe) {
		t.Fatalf("Body = %v, want ErrBodyTooLarge wrapping *http.MaxBytesError", err)
	}
}

// The allocation-free fold agrees with normName on every spelling,
// including non-ASCII names (which fall back to normName).
func TestAppendNormMatchesNormName(t *testing.T) {
	for _, k := range []string{"X-Gatehouse-Subject", "x_gatehouse_sub", "X_FORWARDED_FOR", "Forwarded",
		"X-Real-IP", "", "x-gatehouse-", "X-GATEHOUSE-ROLES", "\u212Aey", "X-Ä-Gatehouse", "Cf-Connecting-Ip", strings.Repeat("A_", 80)} {
		b, ok := appendNorm(nil, k)
		if !ok {
			continue
		}
		if string(b) != normName(k) {
			t.Errorf("appendNorm(%q) = %q, normName = %q", k, b, normName(k))
		}
	}
	if _, ok := appendNorm(nil, "\u212Aey"); ok {
		t.Error("appendNorm accepted a non-ASCII name")
	}
}

func TestStripNoAllocs(t *testing.T) {
	h := http.Header{"Authorization": {"x"}, "Accept": {"y"}, "X-Request-Id": {"z"}, "User-Agent": {"w"}}
	names := IdentityNames("X-User-Id")
	if n := testing.AllocsPerRun(100, func() { StripIdentity(h, names); StripForwardingHeaders(h) }); n != 0 {
		t.Errorf("StripIdentity+StripForwardingHeaders on a clean request: %v allocs, want 0", n)
	}
}
