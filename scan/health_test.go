package scan_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/demo/bookapi"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// probeCheck sends one request to operation op with body raw (nil = a
// valid request) as mila.
type probeCheck struct {
	id, op string
	raw    []byte
	phase  scan.Phase
}

func (c probeCheck) Meta() scan.Meta {
	return scan.Meta{ID: c.id, Title: c.id, Severity: scan.High, Phase: c.phase}
}

func (c probeCheck) Run(ctx context.Context, t *scan.Target, _ func(scan.Finding)) error {
	mila := t.Identity("mila")
	op := t.Operation(c.op)
	r := t.Request(t.Prepare(op, mila), mila)
	if c.raw != nil {
		r.Body = c.raw
	}
	_, err := t.Client.Do(ctx, r)
	if err != nil && scan.Stop(ctx, err) {
		return err
	}
	return err
}

func bookTarget(t *testing.T, url string) *scan.Target {
	t.Helper()
	spec, err := openapi.LoadBytes(bookapi.Spec, "bookapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := []*scan.Identity{scan.NewLoginIdentity("mila", "loginUser", map[string]string{"username": "mila", "password": bookapi.Members[1].Password})}
	tg, err := scan.NewTarget(spec, url, ids, scan.NewClient(scan.ClientOptions{Timeout: 2 * time.Second}), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTargetDies(t *testing.T) {
	crash := probeCheck{id: "GH9101", op: "addBook", raw: []byte(`{"bookTitle": [`)}
	after := probeCheck{id: "GH9102", op: "listBooks", phase: scan.PhaseBurst}
	for _, tc := range []struct {
		name    string
		restart time.Duration // 0: the target stays down
		wait    time.Duration
	}{
		{"comes back", 150 * time.Millisecond, 5 * time.Second},
		{"stays down", 0, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := bookapi.Start(bookapi.Options{}, tc.restart)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			res, err := scan.Run(context.Background(), bookTarget(t, srv.URL),
				scan.Options{Checks: []scan.Check{crash, after}, WaitForTarget: tc.wait})
			if err != nil {
				t.Fatalf("the scan must survive the crash: %v", err)
			}
			var dos *scan.Finding
			for i, f := range res.Findings {
				if f.CheckID == scan.TargetDownMeta.ID {
					dos = &res.Findings[i]
				}
			}
			if dos == nil {
				t.Fatalf("no %s finding: %+v", scan.TargetDownMeta.ID, res.Findings)
			}
			if dos.Operation != "addBook" || !strings.Contains(dos.Curl, "/books") || !strings.Contains(dos.Curl, "bookTitle") || len(dos.Evidence) == 0 || dos.OWASP != scan.API4Resource {
				t.Errorf("finding = %+v", dos)
			}
			if len(res.Outages) != 1 || res.Outages[0].Check != "GH9101" {
				t.Fatalf("outages = %+v", res.Outages)
			}
			second := res.Checks[1]
			if tc.restart > 0 {
				if res.Outages[0].Back == nil || second.Status != scan.CoverTested {
					t.Errorf("target came back: outage %+v, later check %s %q", res.Outages[0], second.Status, second.Reason)
				}
				return
			}
			if res.Outages[0].Back != nil {
				t.Errorf("outage says the target came back: %+v", res.Outages[0])
			}
			if second.Status != "not_run" || second.Reason != "target down" {
				t.Errorf("later check: status %q reason %q, want not_run: target down", second.Status, second.Reason)
			}
			if line := scan.CoverageLine(second); !strings.Contains(line, "not run: target down") {
				t.Errorf("coverage line %q", line)
			}
		})
	}
}

// TestOneFailedRequestIsNotAnOutage: a request whose connection is cut
// while the target keeps answering is not a denial of service.
func TestOneFailedRequestIsNotAnOutage(t *testing.T) {
	api, err := bookapi.New(bookapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/books" {
			panic(http.ErrAbortHandler) // this request only
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	res, err := scan.Run(context.Background(), bookTarget(t, srv.URL),
		scan.Options{Checks: []scan.Check{probeCheck{id: "GH9101", op: "addBook"}}, WaitForTarget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outages) != 0 || len(res.Findings) != 0 {
		t.Errorf("outages %+v findings %+v, want none", res.Outages, res.Findings)
	}
	if res.HealthProbes == 0 {
		t.Error("the failed request was not followed by a health probe")
	}
}
