// Command upstream is the tiny test API behind examples/basic: it serves the
// operations of examples/basic/openapi.yaml from memory and, on
// GET /reports/daily, fails the way real services do: a 500 whose body holds
// a stack trace and an SQL error, which gatehouse must never let through.
//
//	go run ./examples/basic/upstream -addr 127.0.0.1:5000
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// LeakyTrace is the body of the deliberate 500 (tests look for it in logs).
const LeakyTrace = `panic: runtime error: invalid memory address or nil pointer dereference
goroutine 42 [running]:
main.dailyReport(0xc0001a2000)
	/srv/app/reports.go:87 +0x1d
ERROR: syntax error at or near "FROM" (SQLSTATE 42601)
QUERY: SELECT id, email, password_hash FROM users WHERE created_at > $1 FROM reports
`

type user struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type store struct {
	mu    sync.Mutex
	next  int
	users map[int]user
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: newHandler(), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("basic upstream listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newHandler() http.Handler {
	s := &store{next: 3, users: map[int]user{
		1: {1, "Ada", "ada@example.com"},
		2: {2, "Linus", "linus@example.com"},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := make([]user, 0, len(s.users))
		for i := 1; i < s.next; i++ {
			if u, ok := s.users[i]; ok {
				out = append(out, u)
			}
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name, Email string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, 400, map[string]string{"error": "bad json"})
			return
		}
		s.mu.Lock()
		u := user{s.next, in.Name, in.Email}
		s.users[u.ID] = u
		s.next++
		s.mu.Unlock()
		writeJSON(w, 201, u)
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		s.mu.Lock()
		u, ok := s.users[id]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]string{"error": "no such user"})
			return
		}
		w.Header().Set("X-Upstream-Request-URI", r.RequestURI)
		writeJSON(w, 200, u)
	})
	mux.HandleFunc("DELETE /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		s.mu.Lock()
		delete(s.users, id)
		s.mu.Unlock()
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /orders/{order}/items/{item}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"order_id": r.PathValue("order"), "item_id": r.PathValue("item"),
			"received_uri": r.RequestURI})
	})
	mux.HandleFunc("GET /reports/daily", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(500)
		fmt.Fprint(w, LeakyTrace)
	})
	// Everything the spec does not declare: an "internal" endpoint the gateway must hide.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"secret": "internal admin area", "uri": r.RequestURI})
	})
	return withBanner(mux)
}

// withBanner adds the fingerprinting headers many stacks send.
func withBanner(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.41 (Ubuntu)")
		w.Header().Set("X-Powered-By", "PHP/7.4.3")
		h.ServeHTTP(w, r)
	})
}
