package gateway

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestRoutingAdjacentEnumAndNameOnly: through the listener, "/{id}{ext}"
// with an enum ext forwards only declared extensions, the path parameters
// are validated (id pattern), and Swagger 2.0 templates equal up to names
// route by method.
func TestRoutingAdjacentEnumAndNameOnly(t *testing.T) {
	enum, err := os.ReadFile(filepath.Join("..", "..", "openapi", "testdata", "regress", "adjacent-enum.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := startIntegrity(t, string(enum), "")
	for _, tc := range []struct {
		path string
		want int
		fwd  string // RequestURI the upstream must see ("" = not forwarded)
	}{
		{"/reports/q3.json", 200, "/reports/q3.json"},
		{"/reports/q3.tar.gz", 200, "/reports/q3.tar.gz"},
		{"/reports/q3%2Ecsv", 200, "/reports/q3.csv"},
		{"/reports/q3.xml", 404, ""},
		{"/reports/q3.JSON", 404, ""},
		{"/reports/.json", 404, ""},
		{"/reports/q3.json%2F..%2Fadmin", 400, ""},
		{"/archives/zip-2024", 200, "/archives/zip-2024"},
		{"/archives/rar-2024", 404, ""},
	} {
		before := g.hits.Load()
		code := rawDo(t, g.base, "GET", tc.path, "", "", "")
		if code != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, code, tc.want)
		}
		forwarded := g.hits.Load() != before
		if forwarded != (tc.fwd != "") {
			t.Errorf("GET %s forwarded = %v, want %v", tc.path, forwarded, tc.fwd != "")
		}
		if tc.fwd != "" && forwarded && g.lastSeen().RequestURI != tc.fwd {
			t.Errorf("GET %s reached the upstream as %q, want %q", tc.path, g.lastSeen().RequestURI, tc.fwd)
		}
	}

	pets, err := os.ReadFile(filepath.Join("..", "..", "openapi", "testdata", "regress", "swagger2-names.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g = startIntegrity(t, string(pets), "")
	respond := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent) // what the spec declares
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	}
	g.respond.Store(&respond)
	for _, tc := range []struct {
		method string
		want   int
	}{{"GET", 200}, {"DELETE", 204}, {"PUT", 405}, {"POST", 405}} {
		if code := rawDo(t, g.base, tc.method, "/pets/rex", "", "", ""); code != tc.want {
			t.Errorf("%s /pets/rex = %d, want %d", tc.method, code, tc.want)
		}
	}
}
