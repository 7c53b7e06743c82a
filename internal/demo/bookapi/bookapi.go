// Package bookapi is a SECOND DELIBERATELY VULNERABLE HTTP/JSON API for the
// scanner's tests, written in a different style from vulnapi on purpose: the
// conventions of a small Node/Express or Flask service that gatehouse's
// authors did not design. NEVER deploy it, never bind it to anything but a
// loopback address.
//
// Its style: camelCase JSON, answers that are often only {"message": ...},
// string identifiers (usernames in paths, book titles as slugs), a failed
// login answered 200 with a message, a registration that answers only with a
// message, HS256 tokens whose claims are username, iat and exp (no sub).
//
// Its planted blunders (each proven by bookapi_test.go):
//
//   - BOLA read: GET /users/{username} and GET /books/{book_title} answer any
//     logged-in caller with another member's profile or private book note.
//   - BOLA write: PUT /users/{username}/email and PUT /books/{book_title}
//     change another member's email or book.
//   - BOLA on a credential: PUT /users/{username}/password sets another
//     member's password for any logged-in caller (account takeover); the
//     fixed build lets a member change only their own.
//   - SQL injection reachable only through the path parameter of
//     GET /books/{book_title} and the author field of a PUT /books/{book_title}
//     body (string concatenation into SQLite; error text in the answer).
//   - Mass assignment: POST /auth/register accepts "admin": true.
//   - Weak passwords: registration accepts any password ("1").
//   - User enumeration: failed logins answer 200 with different messages for
//     an unknown user and a wrong password.
//   - No rate limit on login.
//   - Weak JWT secret: HS256 signed with JWTSecret, a password from a
//     published list of the most common passwords.
//   - Excessive data exposure: GET /users returns every member's password hash.
//   - BFLA: GET /admin/users is open to every logged-in member.
//   - ReDoS: email addresses are checked by a backtracking matcher for a
//     pattern with a nested quantifier, ^([a-zA-Z0-9]+[._-]?)+@…; its cost
//     doubles with every extra character of a non-matching local part (capped
//     at MaxEmailSteps steps per address so tests stay fast).
//   - Crash: POST /books with a body that is not JSON stops the server (an
//     "unhandled exception"): through Start, the http.Server shuts down and
//     later requests are refused until Server.Restart (or Options.RestartAfter).
//   - Version disclosure and no security headers (X-Powered-By: Express).
//
// It also has a destructive maintenance operation, POST /reset, which wipes
// every registered account and book (in both builds: it is the test
// fixture's reset, a scanner must not call it). ResetCalls counts the calls.
//
// With Options.Fixed every blunder is repaired in the application itself,
// same spec, so tests can prove the scanner stays silent on a correct API.
package bookapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "embed"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Spec is the OpenAPI 3.0.3 document of the API (both builds).
//
//go:embed openapi.yaml
var Spec []byte

// JWTSecret is the HS256 secret of the vulnerable build: "trustno1", entry
// 29 of Mark Burnett's 10,000 most common passwords (2011), the published
// list GH2003 ships in weaklist/passwords-10k.txt
// (see its NOTICE). It is deliberately not one of GH2003's hand-picked JWT
// secrets, which carry no source, so finding it exercises the published list.
const JWTSecret = "trustno1"

// Member is a seeded account.
type Member struct {
	Username, Password, Email string
	Admin                     bool
}

// Members are the seeded accounts (the vulnerable and the fixed build).
var Members = []Member{
	{"admin", "Adm1n-Sh3lf-2024!", "admin@bookclub.test", true},
	{"mila", "mila-reads-Tolstoy-42", "mila@bookclub.test", false},
	{"otto", "otto-pages-Melville-99", "otto@bookclub.test", false},
}

// SeedBook is a seeded book.
type SeedBook struct{ Title, Author, Owner, Note string }

// Books are the seeded books, one per member.
var Books = []SeedBook{
	{"admin-handbook", "The Committee", "admin", "door code 4711"},
	{"the-old-man-and-the-sea", "Ernest Hemingway", "mila", "mila's private note: birthday present from dad"},
	{"moby-dick", "Herman Melville", "otto", "otto's private note: borrowed from the city library, overdue"},
}

// Limits of the fixed build.
const (
	// LoginFailures failed logins per client address and account name per
	// LoginWindow; then 429 for that pair (other accounts still log in).
	LoginFailures = 5
	LoginWindow   = time.Minute
	// ReadLimit GET requests per client address per ReadWindow, advertised
	// with the RateLimit and RateLimit-Policy fields.
	ReadLimit  = 1000
	ReadWindow = time.Minute
	// MinPassword is the fixed build's minimum password length.
	MinPassword = 10
)

// Options configure the API.
type Options struct {
	// Fixed repairs every planted blunder.
	Fixed bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// API is the application; it is an http.Handler. Close releases its database.
type API struct {
	opts   Options
	secret []byte
	mux    *http.ServeMux

	dbMu sync.Mutex // the in-memory database is reset by swapping it
	db   *sql.DB

	mu       sync.Mutex
	users    map[string]*account // by username
	failures map[string][]time.Time
	reads    map[string]*window

	resets    atomic.Int64
	pwChanges atomic.Int64
	lastSteps atomic.Int64
	crashes   atomic.Int64
	down      atomic.Bool
	onCrash   func() // set by Start: stops the http.Server
}

type account struct {
	Username, Email, Hash string
	Admin                 bool
	Since                 string
}

type window struct {
	start time.Time
	n     int
}

// New returns the API with the seeded members and books.
func New(opts Options) (*API, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{opts: opts, secret: []byte(JWTSecret)}
	if opts.Fixed {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	if err := a.reset(); err != nil {
		return nil, err
	}
	a.routes()
	return a, nil
}

// Close closes the database.
func (a *API) Close() error {
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	return a.db.Close()
}

// ResetCalls returns how many times POST /reset was called.
func (a *API) ResetCalls() int { return int(a.resets.Load()) }

// PasswordCalls returns how many requests reached PUT
// /users/{username}/password (refused and anonymous ones included).
func (a *API) PasswordCalls() int { return int(a.pwChanges.Load()) }

// Crashes returns how many times malformed input crashed the vulnerable build.
func (a *API) Crashes() int { return int(a.crashes.Load()) }

// LastEmailSteps returns the matcher steps the last email validation took
// (the fixed build's linear check counts one step per byte).
func (a *API) LastEmailSteps() int { return int(a.lastSteps.Load()) }

// reset replaces the database and the accounts with the seed data.
func (a *API) reset() error {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE books (title TEXT PRIMARY KEY, author TEXT NOT NULL, year INTEGER, owner TEXT NOT NULL, note TEXT)`); err != nil {
		db.Close()
		return fmt.Errorf("create schema: %w", err)
	}
	for _, b := range Books {
		if _, err := db.Exec(`INSERT INTO books (title, author, year, owner, note) VALUES (?,?,?,?,?)`, b.Title, b.Author, 1950, b.Owner, b.Note); err != nil {
			db.Close()
			return fmt.Errorf("seed books: %w", err)
		}
	}
	users := map[string]*account{}
	for _, m := range Members {
		users[m.Username] = &account{Username: m.Username, Email: m.Email, Hash: hashPassword(m.Password), Admin: m.Admin, Since: "2021-03-14"}
	}
	a.dbMu.Lock()
	old := a.db
	a.db = db
	a.dbMu.Unlock()
	if old != nil {
		old.Close()
	}
	a.mu.Lock()
	a.users = users
	a.failures = map[string][]time.Time{}
	a.reads = map[string]*window{}
	a.mu.Unlock()
	return nil
}

func (a *API) database() *sql.DB {
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	return a.db
}

// hashPassword is an unsalted SHA-256, the kind of hash that leaks with the
// user list.
func hashPassword(p string) string {
	s := sha256.Sum256([]byte(p))
	return hex.EncodeToString(s[:])
}

func (a *API) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { a.message(w, http.StatusOK, "Book Club API is running") })
	m.HandleFunc("POST /reset", a.resetDB)
	m.HandleFunc("POST /auth/register", a.register)
	m.HandleFunc("POST /auth/login", a.login)
	m.HandleFunc("GET /users", a.authed(a.listUsers))
	m.HandleFunc("GET /users/{username}", a.authed(a.getUser))
	m.HandleFunc("PUT /users/{username}/email", a.authed(a.updateEmail))
	m.HandleFunc("PUT /users/{username}/password", func(w http.ResponseWriter, r *http.Request) {
		a.pwChanges.Add(1) // every request, anonymous ones too
		a.authed(a.changePassword)(w, r)
	})
	m.HandleFunc("GET /books", a.authed(a.listBooks))
	m.HandleFunc("POST /books", a.authed(a.addBook))
	m.HandleFunc("GET /books/{book_title}", a.authed(a.getBook))
	m.HandleFunc("PUT /books/{book_title}", a.authed(a.updateBook))
	m.HandleFunc("GET /admin/users", a.authed(a.exportUsers))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { a.message(w, http.StatusNotFound, "Not Found") })
	a.mux = m
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.down.Load() {
		// A crashed process answers nothing: the connection is dropped.
		panic(http.ErrAbortHandler)
	}
	h := w.Header()
	if a.opts.Fixed {
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		if r.Method == http.MethodGet && !a.allowRead(w, r) {
			a.message(w, http.StatusTooManyRequests, "Too many requests")
			return
		}
	} else {
		h.Set("X-Powered-By", "Express")
	}
	a.mux.ServeHTTP(w, r)
}

type ctxKey struct{}

type caller struct {
	Username string
	Admin    bool
}

func current(r *http.Request) *caller { c, _ := r.Context().Value(ctxKey{}).(*caller); return c }

func (a *API) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			a.message(w, http.StatusUnauthorized, "Authorization token is missing")
			return
		}
		name, err := a.verify(strings.TrimSpace(tok))
		if err != nil {
			a.message(w, http.StatusUnauthorized, "Invalid token. Please log in again.")
			return
		}
		a.mu.Lock()
		u := a.users[name]
		a.mu.Unlock()
		if u == nil {
			a.message(w, http.StatusUnauthorized, "Invalid token. Please log in again.")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &caller{Username: u.Username, Admin: u.Admin})))
	}
}

var b64 = base64.RawURLEncoding

// Token mints the token login hands out for username.
func (a *API) Token(username string) string {
	now := a.opts.Now()
	hdr := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(map[string]any{"username": username, "iat": now.Unix(), "exp": now.Add(30 * time.Minute).Unix()})
	in := hdr + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(in))
	return in + "." + b64.EncodeToString(mac.Sum(nil))
}

var errToken = errors.New("invalid token")

// verify checks the signature (HS256 only) and expiry of tok and returns its
// username claim. Both builds verify properly: the vulnerable build's flaw is
// its guessable secret.
func (a *API) verify(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errToken
	}
	var hdr struct{ Alg string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" {
		return "", errToken
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return "", errToken
	}
	var claims struct {
		Username string   `json:"username"`
		Exp      *float64 `json:"exp"`
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cb, &claims) != nil || claims.Exp == nil {
		return "", errToken
	}
	if a.opts.Now().Unix() >= int64(*claims.Exp) {
		return "", errToken
	}
	return claims.Username, nil
}

func (a *API) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) message(w http.ResponseWriter, status int, msg string) {
	a.json(w, status, map[string]string{"message": msg})
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// allowRead is the fixed build's read limit; it sets the RateLimit fields.
func (a *API) allowRead(w http.ResponseWriter, r *http.Request) bool {
	host, now := clientAddr(r), a.opts.Now()
	a.mu.Lock()
	win := a.reads[host]
	if win == nil || now.Sub(win.start) >= ReadWindow {
		win = &window{start: now}
		a.reads[host] = win
	}
	win.n++
	n, reset := win.n, win.start.Add(ReadWindow).Sub(now)
	a.mu.Unlock()
	secs := max(int64((reset+time.Second-1)/time.Second), 1)
	h := w.Header()
	h.Set("RateLimit-Policy", fmt.Sprintf(`"reads";q=%d;w=%d`, ReadLimit, int64(ReadWindow/time.Second)))
	h.Set("RateLimit", fmt.Sprintf(`"reads";r=%d;t=%d`, max(ReadLimit-n, 0), secs))
	if n > ReadLimit {
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		return false
	}
	return true
}

// loginBlocked reports whether the fixed build refuses more login attempts
// from r's client for account name (LoginFailures failures within
// LoginWindow).
func (a *API) loginBlocked(r *http.Request, name string) bool {
	host, now := clientAddr(r)+"\x00"+name, a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var recent []time.Time
	for _, t := range a.failures[host] {
		if now.Sub(t) < LoginWindow {
			recent = append(recent, t)
		}
	}
	a.failures[host] = recent
	return len(recent) >= LoginFailures
}

func (a *API) loginFailed(r *http.Request, name string) {
	host := clientAddr(r) + "\x00" + name
	a.mu.Lock()
	a.failures[host] = append(a.failures[host], a.opts.Now())
	a.mu.Unlock()
}
