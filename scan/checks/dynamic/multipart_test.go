package dynamic_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// multipartSpec: one operation whose body is a multipart form only (an
// upload form, as FastAPI's Form(...) and multer handlers declare them).
const multipartSpec = `openapi: 3.0.3
info: { title: reports, version: "1" }
paths:
  /reports:
    post:
      operationId: uploadReport
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [title, region]
              properties:
                title: { type: string }
                region: { type: string }
      responses:
        "201": { description: created }
security: [{ bearer: [] }]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
`

// multipartAPI parses only multipart forms (anything else: 415) and, when
// vulnerable, concatenates the title into SQL (the database error answers).
type multipartAPI struct {
	db         *sql.DB
	vulnerable bool
	parts      atomic.Int64 // multipart requests parsed
	other      atomic.Int64 // requests in any other encoding
}

func (a *multipartAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !formCaller(w, r, "/reports") {
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		a.other.Add(1)
		w.WriteHeader(415)
		return
	}
	a.parts.Add(1)
	storeByName(w, a.db, a.vulnerable, r.PostFormValue("title"))
}

// formCaller answers 401 without alice's or bob's token and 404 for
// anything but POST path; it reports whether the request goes on.
func formCaller(w http.ResponseWriter, r *http.Request, path string) bool {
	if r.Header.Get("Authorization") != "Bearer tok-alice" && r.Header.Get("Authorization") != "Bearer tok-bob" {
		w.WriteHeader(401)
		return false
	}
	if r.Method != "POST" || r.URL.Path != path {
		w.WriteHeader(404)
		return false
	}
	return true
}

// storeByName runs a query on name, concatenated into the SQL when
// vulnerable (the database error answers 500) or as a parameter, and
// answers 201.
func storeByName(w http.ResponseWriter, db *sql.DB, vulnerable bool, name string) {
	var err error
	if vulnerable {
		_, err = db.Exec("SELECT count(*) FROM sqlite_master WHERE name = '" + name + "'")
	} else {
		_, err = db.Exec("SELECT count(*) FROM sqlite_master WHERE name = ?", name)
	}
	if err != nil {
		w.WriteHeader(500)
		fmt.Fprintf(w, "query failed: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	fmt.Fprint(w, `{"id":1}`)
}

// scanSQLiError runs GH2050 as alice and bob against api (built on a fresh
// in-memory database, vulnerable or not) described by spec, and returns
// the findings' operation|param keys.
func scanSQLiError(t *testing.T, spec string, vulnerable bool, api func(db *sql.DB, vulnerable bool) http.Handler) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(api(db, vulnerable))
	t.Cleanup(srv.Close)
	s, err := openapi.LoadBytes([]byte(spec), "forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := []*scan.Identity{
		scan.NewHeaderIdentity("alice", http.Header{"Authorization": {"Bearer tok-alice"}}),
		scan.NewHeaderIdentity("bob", http.Header{"Authorization": {"Bearer tok-bob"}}),
	}
	tg, err := scan.NewTarget(s, srv.URL, ids, scan.NewClient(scan.ClientOptions{Budget: 500}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.SQLiError{}}})
	if err != nil {
		t.Fatal(err)
	}
	return findingKeys(res.Findings)
}

// TestSQLiErrorMultipartForm: a multipart-only body used to get a JSON
// body (refused 415 by the form parser), so its fields were never probed.
// Now the body map goes out as multipart text parts, and the injection in
// the title field is found; the parameterized build is silent.
func TestSQLiErrorMultipartForm(t *testing.T) {
	for _, vulnerable := range []bool{true, false} {
		t.Run(fmt.Sprint("vulnerable=", vulnerable), func(t *testing.T) {
			var api *multipartAPI
			got := scanSQLiError(t, multipartSpec, vulnerable, func(db *sql.DB, vulnerable bool) http.Handler {
				api = &multipartAPI{db: db, vulnerable: vulnerable}
				return api
			})
			if vulnerable && (!got["uploadReport|body title"] || len(got) != 1) {
				t.Errorf("findings %v, want uploadReport|body title", got)
			}
			if !vulnerable && len(got) != 0 {
				t.Errorf("false positives %v", got)
			}
			if api.parts.Load() == 0 || api.other.Load() != 0 {
				t.Errorf("%d multipart requests, %d in another encoding: want only multipart", api.parts.Load(), api.other.Load())
			}
		})
	}
}

// uploadSpec: a multipart form with a required file field (format: binary,
// an image type in its encoding) beside a text field, as FastAPI declares
// `file: UploadFile` and multer `upload.single("file")`.
const uploadSpec = `openapi: 3.0.3
info: { title: uploads, version: "1" }
paths:
  /uploads:
    post:
      operationId: uploadImage
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file, caption]
              properties:
                file: { type: string, format: binary }
                caption: { type: string }
            encoding:
              file: { contentType: "image/png, image/jpeg" }
      responses:
        "201": { description: stored }
        "422": { description: invalid form }
security: [{ bearer: [] }]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
`

// uploadAPI refuses a form whose file field is not a file part (422, as
// FastAPI does for a text value where UploadFile is declared) and, when
// vulnerable, concatenates the caption into SQL.
type uploadAPI struct {
	db         *sql.DB
	vulnerable bool
	files      atomic.Int64 // forms with the file part
	refused    atomic.Int64 // forms without it
	fileType   atomic.Value // the file part's Content-Type
}

func (a *uploadAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !formCaller(w, r, "/uploads") {
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil || len(r.MultipartForm.File["file"]) == 0 {
		a.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(422)
		fmt.Fprint(w, `{"detail":[{"loc":["body","file"],"msg":"Expected UploadFile, received: <class 'str'>"}]}`)
		return
	}
	a.files.Add(1)
	fh := r.MultipartForm.File["file"][0]
	a.fileType.Store(fh.Header.Get("Content-Type") + " " + fh.Filename)
	storeByName(w, a.db, a.vulnerable, r.PostFormValue("caption"))
}

// TestSQLiErrorMultipartFileField: a field declared format: binary went out
// as a text part, which an upload handler refuses (422) before it looks at
// the other fields, so nothing on the form was tested. Now it is a file
// part (filename, the encoding's first contentType), every request passes
// the form check, and the injection in the caption is found; the
// parameterized build is silent.
func TestSQLiErrorMultipartFileField(t *testing.T) {
	for _, vulnerable := range []bool{true, false} {
		t.Run(fmt.Sprint("vulnerable=", vulnerable), func(t *testing.T) {
			var api *uploadAPI
			got := scanSQLiError(t, uploadSpec, vulnerable, func(db *sql.DB, vulnerable bool) http.Handler {
				api = &uploadAPI{db: db, vulnerable: vulnerable}
				return api
			})
			if vulnerable && !got["uploadImage|body caption"] {
				t.Errorf("findings %v, want uploadImage|body caption", got)
			}
			if !vulnerable && len(got) != 0 {
				t.Errorf("false positives %v", got)
			}
			if api.files.Load() == 0 || api.refused.Load() != 0 {
				t.Errorf("%d forms with the file part, %d without: want every form with it", api.files.Load(), api.refused.Load())
			}
			if ft, _ := api.fileType.Load().(string); ft != "image/png ghscan.txt" {
				t.Errorf("file part %q, want Content-Type image/png and filename ghscan.txt", ft)
			}
		})
	}
}
