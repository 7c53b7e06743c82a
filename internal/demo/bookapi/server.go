package bookapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server runs an API on a loopback listener the way a process would: when
// the vulnerable build crashes, the http.Server stops and the port refuses
// connections until Restart (or until Options.RestartAfter elapsed, like a
// process supervisor restarting the service).
type Server struct {
	// URL is the API's base URL ("http://127.0.0.1:PORT"); it stays the
	// same across restarts.
	URL string
	// API is the application (its data survives restarts, like a database).
	API *API

	addr         string
	restartAfter time.Duration

	mu     sync.Mutex
	srv    *http.Server
	closed bool
	timer  *time.Timer
}

// Start serves a new API built from opts on 127.0.0.1 (a free port). After
// a crash, the server restarts by itself after restartAfter (0 = only
// Restart brings it back). Close stops it.
func Start(opts Options, restartAfter time.Duration) (*Server, error) {
	api, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{API: api, addr: ln.Addr().String(), restartAfter: restartAfter}
	s.URL = "http://" + s.addr
	api.onCrash = s.crashed
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.API, ReadHeaderTimeout: 5 * time.Second}
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// crashed stops the http.Server: the listener closes and so does every
// open connection.
func (s *Server) crashed() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	if srv != nil && !s.closed && s.restartAfter > 0 {
		s.timer = time.AfterFunc(s.restartAfter, func() { _ = s.Restart() })
	}
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up reports whether the server is serving.
func (s *Server) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// ErrClosed: the server was closed.
var ErrClosed = errors.New("bookapi: server closed")

// Restart serves the API again on the same address after a crash; it does
// nothing while the server is up.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	s.API.down.Store(false)
	s.serve(ln)
	return nil
}

// Close stops the server for good and closes the API's database.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	srv := s.srv
	s.srv = nil
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	return s.API.Close()
}
