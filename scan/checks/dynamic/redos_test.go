package dynamic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

const redosSpec = `
openapi: 3.0.3
info: { title: redos, version: "1" }
paths:
  /signup:
    post:
      operationId: signup
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                email: { type: string, format: email }
                nickname: { type: string }
      responses:
        "200": { description: ok }
  /lookup:
    get:
      operationId: lookup
      parameters:
        - { name: phone, in: query, required: true, schema: { type: string, pattern: "^[0-9+ ]+$" } }
      responses:
        "200": { description: ok }
`

// backtrack matches s[i:] against (\w+)+@ the way a backtracking engine
// does: every way to split the word characters is tried before failing,
// 2^(n-1) of them for n word characters not followed by '@'.
func backtrack(s string, i int) bool {
	for j := i + 1; j <= len(s) && isWordByte(s[j-1]); j++ {
		if j < len(s) && s[j] == '@' {
			return true
		}
		if backtrack(s, j) {
			return true
		}
	}
	return false
}

// backtrackCapped is backtrack with a step budget, the way engines with a
// match timeout give up (.NET, some JS engines): the cost grows
// exponentially with the length, then stays flat at the cap.
func backtrackCapped(s string, i int, steps *int) bool {
	for j := i + 1; j <= len(s) && isWordByte(s[j-1]); j++ {
		if *steps++; *steps > 1<<22 {
			return false
		}
		if j < len(s) && s[j] == '@' {
			return true
		}
		if backtrackCapped(s, j, steps) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

var linearEmailRe = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}$`)

// redosAPI validates e-mails with a backtracking matcher (vulnerable), with
// Go's linear regexp (correct), or with Go's regexp after a per-character
// sleep (linear cost in the length: not super-linear, silent).
func redosAPI(mode string, perChar time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var email string
		if r.Method == http.MethodPost {
			var in struct{ Email string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			email = in.Email
		} else {
			email = r.URL.Query().Get("phone") + "@x.io"
		}
		ok := false
		switch mode {
		case "backtracking":
			ok = backtrack(email, 0)
		case "capped":
			time.Sleep(time.Duration(len(email)) * perChar)
			steps := 0
			ok = backtrackCapped(email, 0, &steps)
		case "linear":
			time.Sleep(time.Duration(len(email)) * perChar)
			ok = linearEmailRe.MatchString(email)
		default:
			ok = linearEmailRe.MatchString(email)
		}
		if !ok {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid"}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

func scanReDoS(t *testing.T, h http.Handler, c scan.Check) *scan.Result {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(redosSpec), "redos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := scan.NewTarget(spec, srv.URL, nil, scan.NewClient(scan.ClientOptions{Budget: 500}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{c}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReDoS(t *testing.T) {
	c := dynamic.ReDoS{Unit: 40 * time.Millisecond}
	t.Run("backtracking matcher", func(t *testing.T) {
		// Timing noise on a loaded machine can hide the growth (a miss,
		// never a false positive): up to three attempts.
		var res *scan.Result
		for i := 0; i < 3; i++ {
			if res = scanReDoS(t, redosAPI("backtracking", 0), c); foundAll(res.Findings, []string{"signup|email", "lookup|phone"}) {
				break
			}
		}
		if !foundAll(res.Findings, []string{"signup|email", "lookup|phone"}) {
			t.Fatalf("findings %+v, want signup email and lookup phone", res.Findings)
		}
		for _, f := range res.Findings {
			t.Log(f.Detail)
			if f.Fix == "" || len(f.Evidence) != 2 || f.Curl == "" {
				t.Errorf("incomplete finding %+v", f)
			}
		}
	})
	t.Run("capped backtracking matcher", func(t *testing.T) {
		// Exponential up to a cap that costs less than Unit, then linear
		// (a per-character cost) until a long input costs Unit: the last
		// two lengths grow less than n^1.5, the fine steps before grow
		// exponentially. Only the exponential rule finds it.
		c := dynamic.ReDoS{Unit: 80 * time.Millisecond}
		var res *scan.Result
		for i := 0; i < 3; i++ {
			if res = scanReDoS(t, redosAPI("capped", 20*time.Microsecond), c); foundAll(res.Findings, []string{"signup|email", "lookup|phone"}) {
				break
			}
		}
		if !foundAll(res.Findings, []string{"signup|email", "lookup|phone"}) {
			t.Fatalf("findings %+v, want signup email and lookup phone", res.Findings)
		}
	})
	for _, tc := range []struct {
		name    string
		mode    string
		perChar time.Duration
	}{
		{"linear regexp", "re2", 0},
		{"cost linear in the length", "linear", 40 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := scanReDoS(t, redosAPI(tc.mode, tc.perChar), c)
			for _, f := range res.Findings {
				t.Errorf("false positive: %s %s: %s", f.Operation, f.Param, f.Detail)
			}
			if res.Requests > 200 {
				t.Errorf("%d requests, want <= 200", res.Requests)
			}
		})
	}
}
