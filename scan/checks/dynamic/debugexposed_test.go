package dynamic_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func runDebug(t *testing.T, h http.Handler) []scan.Finding {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	tg, err := scan.NewTarget(toySpec(t), srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 50}), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []scan.Finding
	if err := (dynamic.ExposedDebug{}).Run(context.Background(), tg, func(f scan.Finding) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestExposedDebug(t *testing.T) {
	t.Run("vulnerable", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html><head><title>/debug/pprof/</title></head>Types of profiles available:"))
		})
		mux.HandleFunc("/.env", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("APP_ENV=prod\nDB_PASSWORD=hunter2\n"))
		})
		got := runDebug(t, mux)
		if len(got) != 2 || got[0].Param != "/debug/pprof/" || got[0].Severity != scan.High || got[1].Param != "/.env" {
			t.Errorf("findings %+v", got)
		}
	})
	t.Run("correct toy", func(t *testing.T) {
		if got := runDebug(t, newToy(t, vuln{})); len(got) != 0 {
			t.Errorf("findings %+v", got)
		}
	})
	t.Run("catch-all 200 with the signature everywhere", func(t *testing.T) {
		got := runDebug(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<script src="swagger-ui-bundle.js"></script> <title>/debug/pprof/</title> {"__schema":{}}`))
		}))
		if len(got) != 0 {
			t.Errorf("catch-all reported: %+v", got)
		}
	})
}
