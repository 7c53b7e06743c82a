package scan_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

const echoSpec = `openapi: 3.0.3
info: { title: echo, version: "1" }
paths:
  /render:
    post:
      operationId: render
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [title], properties: { title: { type: string } } }
      responses: { "200": { description: the rendered text } }
  /uploads:
    post:
      operationId: upload
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [name], properties: { name: { type: string } } }
      responses: { "201": { description: stored } }
`

// postAll is a check that sends every POST of the spec twice.
type postAll struct{}

func (postAll) Meta() scan.Meta { return scan.Meta{ID: "GH9999", Title: "post all"} }

func (postAll) Run(ctx context.Context, t *scan.Target, _ func(scan.Finding)) error {
	for _, op := range t.Spec.Operations {
		for range 2 {
			if _, err := t.Send(ctx, t.Prepare(op, nil), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestCleanupIgnoresEchoes: a 200 that repeats what was sent but names no
// object, on a path nothing can be deleted under (a render, a preview), is
// not reported as an object left behind; a 201 is, with its reason.
func TestCleanupIgnoresEchoes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/render":
			_ = json.NewEncoder(w).Encode(map[string]string{"rendered": "Monthly report for " + in["title"]})
		case "/uploads":
			w.WriteHeader(201)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "stored " + in["name"]})
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	spec, err := openapi.LoadBytes([]byte(echoSpec), "echo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 100}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{postAll{}}})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]int{}
	for _, c := range res.Cleanup {
		kept[c.Operation+": "+c.Reason]++
	}
	if kept["render: no DELETE operation on /render/{…}"] != 0 {
		t.Errorf("the render's echoes are reported as objects left behind: %v", kept)
	}
	if kept["upload: no DELETE operation on /uploads/{…}"] < 2 {
		t.Errorf("the 201s are not reported as left behind: %v", kept)
	}
}
