// Package notesapi is the small third-party API behind
// examples/self-issued: it mints its own HS256 tokens with a short secret
// and no iss, aud or sub (the user is in a "username" claim), answers a
// failed login with 200 {"message":"bad credentials"}, returns any user's
// profile to any logged-in user (no ownership check), accepts notes of any
// size, and exposes an admin export to every logged-in user. gatehouse,
// configured by examples/self-issued/gatehouse.yaml, closes each of these
// without changing the API or its spec.
//
// An API is safe for concurrent use.
package notesapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Users are the accounts the API knows (username: password).
var Users = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}

// API is the notes API handler.
type API struct {
	secret []byte
	now    func() time.Time
	mux    *http.ServeMux

	mu    sync.Mutex
	hits  map[string]int
	notes []Note
}

// Note is a stored note.
type Note struct {
	ID    int    `json:"id"`
	Owner string `json:"-"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// New returns the API signing its tokens with secret; now is the clock
// (time.Now when nil).
func New(secret []byte, now func() time.Time) *API {
	if now == nil {
		now = time.Now
	}
	a := &API{secret: secret, now: now, mux: http.NewServeMux(), hits: map[string]int{}}
	a.mux.HandleFunc("POST /login", a.login)
	a.mux.HandleFunc("GET /users/{username}/profile", a.auth(a.profile))
	a.mux.HandleFunc("POST /users/{username}/notes", a.auth(a.createNote))
	a.mux.HandleFunc("GET /admin/export", a.auth(a.export))
	return a
}

// ServeHTTP serves the API and counts each request by its pattern.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := a.mux.Handler(r)
	a.mu.Lock()
	a.hits[pattern]++
	a.mu.Unlock()
	a.mux.ServeHTTP(w, r)
}

// Hits returns how many requests reached pattern ("POST /login").
func (a *API) Hits(pattern string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[pattern]
}

// Notes returns a copy of the stored notes.
func (a *API) Notes() []Note {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Note(nil), a.notes...)
}

// Token mints the API's token for username: HS256, claims username, iat
// and exp (30 minutes), nothing else.
func (a *API) Token(username string) string {
	now := a.now().Unix()
	claims, _ := json.Marshal(map[string]any{"username": username, "iat": now, "exp": now + 1800})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// user verifies the bearer token and returns its username ("" if invalid).
func (a *API) user(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 {
		return ""
	}
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Username string `json:"username"`
		Exp      int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Exp < a.now().Unix() {
		return ""
	}
	return c.Username
}

func (a *API) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.user(r) == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "login required"})
			return
		}
		h(w, r)
	}
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad request"})
		return
	}
	pw, ok := Users[in.Username]
	if !ok || !hmac.Equal([]byte(pw), []byte(in.Password)) {
		// The API's habit: a failed login is a 200 with a message.
		writeJSON(w, http.StatusOK, map[string]string{"message": "bad credentials"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": a.Token(in.Username)})
}

// profile answers any user's profile to any logged-in caller.
func (a *API) profile(w http.ResponseWriter, r *http.Request) {
	u := r.PathValue("username")
	if _, ok := Users[u]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such user"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"username": u, "email": u + "@example.com", "recovery_hint": "first pet of " + u})
}

// createNote stores a note of any size for any user.
func (a *API) createNote(w http.ResponseWriter, r *http.Request) {
	var n Note
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20)).Decode(&n); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad request"})
		return
	}
	a.mu.Lock()
	n.ID, n.Owner = len(a.notes)+1, r.PathValue("username")
	a.notes = append(a.notes, n)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, n)
}

// export returns every note to any logged-in caller.
func (a *API) export(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"notes": a.Notes()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
