package problem

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestWriteErrorNeverLeaks(t *testing.T) {
	secret := errors.New("panic: runtime error at /srv/app/db.go:42: SELECT * FROM users WHERE id='1''")
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"plain error", secret, 500},
		{"wrapped problem", &Error{Status: 403, Err: secret}, 403},
		{"public title", &Error{Status: 429, Public: "Too Many Requests", Err: secret}, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := gatehouse.Record{RequestID: "req-1"}
			r := httptest.NewRequest("GET", "/x", nil)
			r = r.WithContext(gatehouse.NewRecordContext(context.Background(), &rec))
			w := httptest.NewRecorder()
			WriteError(w, r, tc.err)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			body := w.Body.String()
			for _, leak := range []string{"SELECT", "db.go", "panic", "runtime"} {
				if strings.Contains(body, leak) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
			var d Details
			if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || d.RequestID != "req-1" || d.Status != tc.status {
				t.Errorf("body = %s (err %v), want problem with request_id req-1", body, err)
			}
			if ct := w.Header().Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestExposeDetailsOnlyWhenAsked(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	r = r.WithContext(WithExposeDetails(r.Context()))
	w := httptest.NewRecorder()
	WriteError(w, r, &Error{Status: 400, Err: errors.New("field email: bad format")})
	if !strings.Contains(w.Body.String(), "bad format") {
		t.Errorf("expose_details body = %s, want the detail", w.Body.String())
	}
}
