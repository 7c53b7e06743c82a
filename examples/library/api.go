package library

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

type user struct {
	ID           int    `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	PasswordHash string `json:"password_hash"`
}

// NewAPI returns a small orders API that makes the usual mistakes on
// purpose, so that the gatehouse chain in front of it has something to stop:
// it reads the caller from the bearer token without verifying it, serves any
// user's record to anyone (BOLA) with the password hash in it, and stores
// whatever fields a client posts (mass assignment). Users 1 (alice) and 2
// (bob) exist. Safe for concurrent use.
func NewAPI() http.Handler {
	users := map[int]user{
		1: {1, "alice", "alice@example.com", "$2b$12$0nZyGx3bq1uDkHUmmYnd6u8kZr4ZQeZbJm0eQ6Hq9b6nJ7xQeY5pa"},
		2: {2, "bob", "bob@example.com", "$2b$12$Q9c3C5lJ3YqvQH0bXb2dQO9mJqjv5Jq2XbQbm0yLqZb7dQb6L9c2e"},
	}
	var mu sync.Mutex
	orders := []map[string]any{}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		id, ok := caller(r)
		u, found := users[id]
		if !ok || !found {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
	mux.HandleFunc("GET /users/{user_id}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := caller(r); !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		id, _ := strconv.Atoi(r.PathValue("user_id"))
		u, found := users[id] // no ownership check: any caller reads any user
		if !found {
			http.Error(w, "no such user", http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		id, ok := caller(r)
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		q := r.URL.Query().Get("q")
		mu.Lock()
		defer mu.Unlock()
		out := []map[string]any{}
		for _, o := range orders {
			if o["owner"] == id && strings.Contains(o["item"].(string), q) {
				out = append(out, o)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		id, ok := caller(r)
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var o map[string]any // every posted field is kept (mass assignment)
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, ok := o["item"].(string); !ok {
			http.Error(w, "item: want a string", http.StatusBadRequest)
			return
		}
		mu.Lock()
		o["id"] = len(orders) + 1
		if _, set := o["owner"]; !set {
			o["owner"] = id
		}
		orders = append(orders, o)
		mu.Unlock()
		writeJSON(w, http.StatusCreated, o)
	})
	return mux
}

// caller trusts the X-Gatehouse-Subject header, else reads the user ID from
// the bearer token's payload without verifying the signature: the API's
// worst mistakes, harmless only behind a gateway that strips client-sent
// identity headers and verifies every token first.
func caller(r *http.Request) (int, bool) {
	if s := r.Header.Get("X-Gatehouse-Subject"); s != "" {
		id, err := strconv.Atoi(s)
		return id, err == nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return 0, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, false
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return 0, false
	}
	id, err := strconv.Atoi(c.Sub)
	return id, err == nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
