package dynamic

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
)

// TestReproduced: the second pair confirms the first when it gives the
// same answers or the same direction (a returned list that grew); an API
// that echoes the input, or answers the second pair the other way round,
// does not confirm.
func TestReproduced(t *testing.T) {
	ex := func(status int, body string) *scan.Exchange {
		return &scan.Exchange{Status: status, Body: []byte(body)}
	}
	users := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf(`{"id":%d,"username":"user-%d"}`, i, i))
		}
		return "[" + strings.Join(b, ",") + "]"
	}
	echo := func(q string) *scan.Exchange { return ex(200, `{"query":"`+q+`","results":[]}`) }
	for _, tc := range []struct {
		name           string
		rt, rf, ct, cf *scan.Exchange
		want           bool
	}{
		{"same answers", ex(200, users(40)), ex(200, "[]"), ex(200, users(40)), ex(200, "[]"), true},
		{"the true list grew", ex(200, users(40)), ex(200, "[]"), ex(200, users(60)), ex(200, "[]"), true},
		{"echo of the input", echo("x' OR 1=1-- "), echo("x' OR 1=2-- "), echo("x' OR 2=2-- "), echo("x' OR 2=3-- "), false},
		{"second pair the other way round", ex(200, users(40)), ex(200, "[]"), ex(200, "[]"), ex(200, users(40)), false},
		{"second pair equal", ex(200, users(40)), ex(200, "[]"), ex(200, "[]"), ex(200, "[]"), false},
		{"status changed", ex(200, users(40)), ex(404, `{"error":"none"}`), ex(200, users(41)), ex(200, `{"error":"none"}`), false},
	} {
		if got := reproduced(tc.rt, tc.rf, tc.ct, tc.cf); got != tc.want {
			t.Errorf("%s: reproduced = %v, want %v", tc.name, got, tc.want)
		}
	}
}
