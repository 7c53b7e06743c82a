package waf_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/waf"
)

// Example puts the CRS at paranoia level 1 in front of a handler: a SQL
// injection in a query parameter gets a generic 403 problem body, the
// matched rules go to the request's audit record, and a name with an
// apostrophe passes.
func Example() {
	w, err := waf.New(waf.Options{ParanoiaLevel: 1, InspectBody: true})
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, `{"ok":true}`)
	})
	h := w.Middleware(waf.MiddlewareOptions{})(api)

	for _, target := range []string{
		"/users?name=O%27Brien",
		"/users?name=1%27%20UNION%20SELECT%20password%20FROM%20users--",
	} {
		rec := &gatehouse.Record{}
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r = r.WithContext(gatehouse.NewRecordContext(r.Context(), rec))
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, r)
		s := rec.Snapshot()
		fmt.Println(rw.Code, s.Stage, s.Reason, s.Attrs["waf_rules"] != "")
	}
	// Output:
	// 200   false
	// 403 waf anomaly true
}
