package policy

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// PatternRoute resolves the operation from the Go 1.22+ ServeMux pattern that
// matched r (r.Pattern, e.g. "GET /users/{user_id}"), for services that route
// with net/http instead of the gateway. Wrap each handler (not the mux), so
// the pattern is set when the policy runs:
//
//	mux.Handle("GET /users/{user_id}", pol.Middleware(getUser))
//
// "{name...}" wildcards become "{name}" and "{$}" is dropped, so the template
// matches an Operation declared as "/users/{user_id}". Path values are the
// mux's decoded r.PathValue. It returns nil (deny) when r has no pattern.
func PatternRoute(r *http.Request) *gatehouse.Route {
	pat := r.Pattern
	if pat == "" {
		return nil
	}
	method := r.Method
	if m, rest, ok := strings.Cut(pat, " "); ok {
		method, pat = m, strings.TrimLeft(rest, " \t")
	}
	if i := strings.IndexByte(pat, '/'); i > 0 {
		pat = pat[i:] // drop a host
	}
	rt := &gatehouse.Route{Method: method, Path: r.URL.Path}
	segs := strings.Split(pat, "/")
	out := segs[:0]
	for _, s := range segs {
		if s == "{$}" {
			continue
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := strings.TrimSuffix(s[1:len(s)-1], "...")
			if rt.Params == nil {
				rt.Params = map[string]string{}
			}
			rt.Params[name] = r.PathValue(name)
			s = "{" + name + "}"
		}
		out = append(out, s)
	}
	rt.Template = strings.Join(out, "/")
	if len(rt.Template) > 1 && strings.HasSuffix(pat, "/{$}") {
		rt.Template += "/"
	}
	return rt
}
