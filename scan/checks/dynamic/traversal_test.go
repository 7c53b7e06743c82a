package dynamic_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

const filesSpec = `openapi: 3.1.0
info: { title: f, version: "1" }
paths:
  /report:
    get:
      operationId: getReport
      parameters:
        - { name: template, in: query, required: true, schema: { type: string, example: "monthly.txt" } }
        - { name: q, in: query, schema: { type: string } }
      responses: { "200": { description: ok } }
`

// filesAPI serves templates from a fake file system holding /etc/passwd;
// the vulnerable one joins the name naively, the correct one keeps it
// under /srv/templates.
func filesAPI(vulnerable bool) http.HandlerFunc {
	fs := map[string]string{
		"/srv/templates/monthly.txt": "monthly report",
		"/etc/passwd":                "root:x:0:0:root:/root:/bin/sh\n",
	}
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("template")
		var p string
		if vulnerable {
			name = strings.ReplaceAll(name, "....//", "../")
			p = path.Join("/srv/templates", name)
			if strings.HasPrefix(name, "/") {
				p = path.Clean(name)
			}
		} else {
			p = path.Join("/srv/templates", path.Base(path.Clean("/"+name)))
		}
		body, ok := fs[p]
		if !ok {
			http.Error(w, "not found", 404)
			return
		}
		_, _ = w.Write([]byte(body))
	}
}

func TestPathTraversal(t *testing.T) {
	spec, err := openapi.LoadBytes([]byte(filesSpec), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		vulnerable bool
		want       int
	}{{"vulnerable", true, 1}, {"correct", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(filesAPI(tc.vulnerable))
			defer srv.Close()
			tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 100}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.PathTraversal{}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != tc.want {
				t.Fatalf("findings %+v, want %d", res.Findings, tc.want)
			}
			for _, f := range res.Findings {
				if f.Param != "query template" || f.CWE != "CWE-22" || len(f.Evidence) == 0 {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}

// The toy has no file-like parameter: nothing is sent, nothing reported.
func TestPathTraversalToySilent(t *testing.T) {
	if fs := scanToy(t, vuln{SQLi: true, LeakErrors: true}, dynamic.PathTraversal{}); len(fs) != 0 {
		t.Errorf("findings on an API without file parameters: %+v", fs)
	}
}
