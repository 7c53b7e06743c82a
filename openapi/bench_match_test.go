package openapi

import (
	"strings"
	"testing"
)

// BenchmarkMatch matches requests against the OpenAI spec (288 operations,
// ~200 templates): every operation in turn with a realistic path, plus
// single cases for a static route, an encoded path, and a 404.
//
//	go test -run '^$' -bench BenchmarkMatch -benchtime 1s ./openapi
func BenchmarkMatch(b *testing.B) {
	needFile(b, openaiSpec)
	s, err := Load(openaiSpec)
	if err != nil {
		b.Fatal(err)
	}
	type req struct{ method, path string }
	var all []req
	for _, o := range s.Operations {
		if strings.ContainsAny(o.Template, "?#") {
			continue
		}
		all = append(all, req{o.Method, strings.NewReplacer("{", "id_", "}", "").Replace(o.Template)})
	}
	b.Run("all-operations", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := all[i%len(all)]
			if _, err := s.Match(r.method, r.path); err != nil {
				b.Fatal(r, err)
			}
			i++
		}
	})
	for _, c := range []struct{ name, method, path string }{
		{"static", "POST", "/chat/completions"},
		{"one-param", "GET", "/assistants/asst_abc123"},
		{"two-params", "GET", "/threads/thread_1/messages/msg_2"},
		{"encoded", "GET", "/assistants/asst%5Fabc%20123"},
		{"not-found", "GET", "/no/such/route"},
		{"bad-path", "GET", "/assistants/..%2Fadmin"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Match(c.method, c.path)
			}
		})
	}
}
