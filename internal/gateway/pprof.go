package gateway

import (
	"net/http"
	"net/http/pprof"
)

// registerPprof adds Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ to the admin mux. They answer only while the current
// config has pprof: true (404 otherwise, so a reload turns them on or
// off), and need the admin bearer token when admin_auth sets one. The
// public listener never serves them: its handler is the pipeline, and the
// package's registration on http.DefaultServeMux is never served.
func (s *Server) registerPprof(mux *http.ServeMux) {
	gate := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if p := s.pipe.Load(); p == nil || !p.cfg.Pprof {
				http.NotFound(w, r)
				return
			}
			if !s.adminAuthorized(w, r) {
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /debug/pprof/", gate(pprof.Index)) // named profiles: heap, allocs, goroutine, ...
	mux.HandleFunc("GET /debug/pprof/cmdline", gate(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", gate(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", gate(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", gate(pprof.Trace))
}
