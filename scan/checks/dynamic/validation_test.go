package dynamic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestInputValidationToy(t *testing.T) {
	// The toy answers a non-numeric user_id with 400, or with a 500 stack
	// trace when it leaks errors.
	expect(t, dynamic.InputValidation{}, vuln{LeakErrors: true}, "getUser|path user_id", "updateUser|path user_id")
}

const validationSpec = `openapi: 3.1.0
info: { title: v, version: "1" }
paths:
  /items:
    get:
      operationId: listItems
      parameters:
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
        - { name: name, in: query, schema: { type: string, maxLength: 8 } }
      responses: { "200": { description: ok } }
    post:
      operationId: createItem
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [title]
              properties:
                title: { type: string, maxLength: 10, example: "hello" }
                qty: { type: integer, minimum: 0, maximum: 5, example: 1 }
      responses: { "201": { description: ok } }
`

// itemsAPI serves validationSpec; strict validates like the contract says.
func itemsAPI(strict, crash bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		bad := func() {
			if crash {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(400)
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodGet:
			q := r.URL.Query()
			if v := q.Get("limit"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || (strict && (n < 1 || n > 100)) {
					bad()
					return
				}
			}
			if strict && len(q.Get("name")) > 8 {
				bad()
				return
			}
			_, _ = w.Write([]byte(`[{"id":1,"title":"a"}]`))
		case http.MethodPost:
			var in map[string]any
			if json.NewDecoder(r.Body).Decode(&in) != nil {
				bad()
				return
			}
			if strict {
				for k := range in {
					if k != "title" && k != "qty" {
						bad()
						return
					}
				}
				if s, _ := in["title"].(string); len(s) > 10 {
					bad()
					return
				}
				if n, ok := in["qty"].(float64); ok && (n < 0 || n > 5) {
					bad()
					return
				}
			}
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"id":2}`))
		}
	}
}

func scanItems(t *testing.T, h http.Handler) []scan.Finding {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(validationSpec), "v.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 200}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.InputValidation{}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings
}

func TestInputValidationAcceptance(t *testing.T) {
	tests := []struct {
		name          string
		strict, crash bool
		want          []string // operation|param|severity
	}{
		{"accepts everything", false, false, []string{
			"createItem|body ghscan_unknown|medium", "createItem|body qty|medium", "createItem|body title|medium",
			"listItems|query limit|medium", "listItems|query name|medium",
		}},
		{"validates", true, false, nil},
		{"validates but crashes instead of 400", true, true, []string{
			"createItem|body ghscan_unknown|low", "createItem|body qty|low", "createItem|body title|low",
			"listItems|query limit|low", "listItems|query name|low",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range scanItems(t, itemsAPI(tc.strict, tc.crash)) {
				got = append(got, f.Operation+"|"+f.Param+"|"+f.Severity.String())
				if f.Fix == "" || f.CWE != "CWE-20" || len(f.Evidence) == 0 {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			sort.Strings(got)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("finding %d = %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}
