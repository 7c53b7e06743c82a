package ratelimit

import (
	"net/http"
	"testing"
)

// BenchmarkFailureWhenEval: the condition alone on one recorded answer
// (JSON view of the body + CEL evaluation), the part a login pays on top
// of the default 401/403 rule besides the capture writer.
func BenchmarkFailureWhenEval(b *testing.B) {
	resp := &loginResponse{status: 200, header: http.Header{"Content-Type": {"application/json"}, "X-Login": {"failed"}},
		body: []byte(`{"message":"bad credentials","request_id":"0123456789abcdef"}`)}
	for _, expr := range []string{`response.status == 200 && !has(response.body.auth_token)`, `response.headers[?"x-login"].orValue("") == "failed"`, `response.status == 401`} {
		b.Run(expr, func(b *testing.B) {
			c, err := CompileFailureWhen(expr)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := c.failed(resp); err != nil || ok == (expr == `response.status == 401`) {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
