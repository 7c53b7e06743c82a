package dynamic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// renderSpec: the file name arrives in a JSON body, nested (a Node report
// renderer's options.template), and in a URL-encoded form field (a Python
// export handler's filename): no GET parameter names a file.
const renderSpec = `openapi: 3.0.3
info: { title: render, version: "1" }
paths:
  /reports/render:
    post:
      operationId: renderReport
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [title, options]
              properties:
                title: { type: string }
                options:
                  type: object
                  required: [template]
                  properties:
                    template: { type: string, example: "monthly.txt" }
      responses: { "200": { description: rendered } }
  /exports:
    post:
      operationId: exportFile
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [filename]
              properties:
                filename: { type: string, example: "monthly.txt" }
      responses: { "200": { description: the file } }
`

// renderAPI reads the named template from the same fake file system as
// filesAPI: naively joined when vulnerable, kept under /srv/templates
// otherwise. An unknown template renders the title alone (200), as a
// renderer with a default does.
func renderAPI(vulnerable bool) http.HandlerFunc {
	read := filesAPI(vulnerable)
	return func(w http.ResponseWriter, r *http.Request) {
		var name string
		switch r.URL.Path {
		case "/reports/render":
			var body struct {
				Title   string `json:"title"`
				Options struct {
					Template string `json:"template"`
				} `json:"options"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, "bad json", 400)
				return
			}
			name = body.Options.Template
		case "/exports":
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", 400)
				return
			}
			name = r.PostForm.Get("filename")
		default:
			http.NotFound(w, r)
			return
		}
		rec := httptest.NewRecorder()
		read(rec, httptest.NewRequest("GET", "/report?template="+url.QueryEscape(name), nil))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"rendered": rec.Body.String()})
	}
}

// TestPathTraversalBodyAndForm: GH2055 used to try GET query and path
// parameters only; a file name in a nested JSON body field or a form field
// was never probed. Both are found on the vulnerable build, by the effect
// (the passwd contents in the answer), and the correct build is silent.
func TestPathTraversalBodyAndForm(t *testing.T) {
	spec, err := openapi.LoadBytes([]byte(renderSpec), "render.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, vulnerable := range []bool{true, false} {
		t.Run(fmt.Sprint("vulnerable=", vulnerable), func(t *testing.T) {
			srv := httptest.NewServer(renderAPI(vulnerable))
			defer srv.Close()
			tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 100}), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.PathTraversal{}}})
			if err != nil {
				t.Fatal(err)
			}
			got := findingKeys(res.Findings)
			want := map[string]bool{}
			if vulnerable {
				want = map[string]bool{"renderReport|body options.template": true, "exportFile|body filename": true}
			}
			if !maps.Equal(got, want) {
				t.Errorf("findings %v, want %v", got, want)
			}
		})
	}
}
