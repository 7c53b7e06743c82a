// Package vulnapi is a DELIBERATELY VULNERABLE HTTP/JSON API: the target of
// `gatehouse demo` and of the scanner's end-to-end tests. NEVER deploy it,
// never bind it to anything but a loopback address.
//
// It commits each classic API blunder for real, against a real SQL database
// (SQLite through the pure-Go modernc driver, in memory):
//
//   - BOLA: GET /users/{id}, PATCH /users/{id} and GET /notes/{id} have no ownership check.
//   - SQL injection: GET /users/search builds its query by string concatenation.
//   - Broken authentication: HS256 JWTs signed with the secret "secret", no exp,
//     still valid after POST /logout; login reveals whether a user exists, and
//     has no rate limit.
//   - Excessive data exposure: GET /users and GET /users/{id} return password
//     hashes, internal notes and API secrets the spec does not declare.
//   - Mass assignment: POST /register and PATCH /users/{id} accept "role".
//   - Leaky errors: bad input yields 500 with a Go stack trace and SQL error text.
//   - Misconfiguration: no security headers, a version-revealing Server header,
//     X-Powered-By, CORS reflecting any origin with credentials, TRACE echo.
//   - BFLA: /admin/* is open to any logged-in user.
//   - Unrestricted resource consumption: reads have no rate limit (the fixed
//     build allows ReadLimit per ReadWindow per client and says so in
//     RateLimit / RateLimit-Policy headers).
//
// With Options.Fixed every blunder is repaired in the application itself, so
// tests can prove the scanner stays silent on a correct API.
//
// The JWT code here is hand-written on purpose: it is part of the vulnerable
// target. Gatehouse's own token handling uses lestrrat-go/jwx.
package vulnapi

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/gatehouse/gatehouse/examples/demo"
)

// Spec is the OpenAPI 3.1 document describing the API.
var Spec = demo.Spec

// WeakSecret is the HS256 secret the vulnerable build signs tokens with.
const WeakSecret = "secret"

// Seeded users: username → password. IDs are 1 (admin), 2 (alice), 3 (bob).
var Users = []struct {
	ID                 int64
	Username, Password string
	Role               string
}{
	{1, "admin", "admin-pw", "admin"},
	{2, "alice", "alice-pw", "user"},
	{3, "bob", "bob-pw", "user"},
}

// Options configure the API.
type Options struct {
	// Fixed repairs every planted blunder.
	Fixed bool
	// TrustGatewayHeaders makes the API take the caller's identity from the
	// X-Gatehouse-Subject and X-Gatehouse-Roles headers set by a gatehouse
	// gateway in front of it (the gateway strips client-sent copies). Use only
	// when the API is reachable through the gateway alone.
	TrustGatewayHeaders bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// API is the vulnerable application. Close releases its database.
type API struct {
	opts    Options
	db      *sql.DB
	secret  []byte
	mux     *http.ServeMux
	mu      sync.Mutex
	revoked map[string]bool        // fixed build: logged-out token IDs
	logins  map[string][]time.Time // fixed build: login attempts per client
	reads   map[string]*window     // fixed build: reads per client
}

// ReadLimit is the fixed build's read limit: ReadLimit GETs per client
// address per ReadWindow, advertised on every read with the IETF RateLimit
// and RateLimit-Policy fields (the vulnerable build has no limit: GH2032).
// It is generous: a full scan stays below it, a scraper does not.
const (
	ReadLimit  = 1000
	ReadWindow = time.Minute
)

// window is a fixed-window counter.
type window struct {
	start time.Time
	n     int
}

// New creates the API with a fresh in-memory database holding the seeded users.
func New(opts Options) (*API, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1) // one in-memory database per API
	a := &API{opts: opts, db: db, secret: []byte(WeakSecret),
		revoked: map[string]bool{}, logins: map[string][]time.Time{}, reads: map[string]*window{}}
	if opts.Fixed {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	if err := a.seed(); err != nil {
		db.Close()
		return nil, err
	}
	a.routes()
	return a, nil
}

// Close closes the database.
func (a *API) Close() error { return a.db.Close() }

func (a *API) seed() error {
	stmts := []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, email TEXT,
			password_hash TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'user', internal_notes TEXT, api_secret TEXT)`,
		`CREATE TABLE notes (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, text TEXT NOT NULL)`,
	}
	for _, s := range stmts {
		if _, err := a.db.Exec(s); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	for _, u := range Users {
		_, err := a.db.Exec(`INSERT INTO users (id, username, email, password_hash, role, internal_notes, api_secret) VALUES (?,?,?,?,?,?,?)`,
			u.ID, u.Username, u.Username+"@example.com", hashPassword(u.Password), u.Role,
			"vip customer, credit limit 5000", "sk_live_"+hex.EncodeToString([]byte(u.Username+"-key")))
		if err != nil {
			return fmt.Errorf("seed users: %w", err)
		}
		if _, err := a.db.Exec(`INSERT INTO notes (owner_id, text) VALUES (?, ?)`, u.ID, "private note of "+u.Username); err != nil {
			return fmt.Errorf("seed notes: %w", err)
		}
	}
	return nil
}

// hashPassword is unsalted MD5: one more blunder, visible once hashes leak.
func hashPassword(p string) string {
	s := md5.Sum([]byte(p))
	return hex.EncodeToString(s[:])
}

func (a *API) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		a.json(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	m.HandleFunc("POST /register", a.register)
	m.HandleFunc("POST /login", a.login)
	m.HandleFunc("POST /logout", a.authed(a.logout))
	m.HandleFunc("GET /users", a.authed(a.listUsers))
	m.HandleFunc("GET /users/search", a.authed(a.searchUsers))
	m.HandleFunc("GET /users/{user_id}", a.authed(a.getUser))
	m.HandleFunc("PATCH /users/{user_id}", a.authed(a.updateUser))
	m.HandleFunc("POST /notes", a.authed(a.createNote))
	m.HandleFunc("GET /notes/{note_id}", a.authed(a.getNote))
	m.HandleFunc("GET /admin/stats", a.authed(a.adminOnly(a.adminStats)))
	m.HandleFunc("PUT /admin/users/{user_id}/role", a.authed(a.adminOnly(a.setRole)))
	a.mux = m
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if a.opts.Fixed {
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		if r.Method == http.MethodTrace || r.Method == http.MethodOptions {
			a.problem(w, http.StatusMethodNotAllowed, nil)
			return
		}
		if r.Method == http.MethodGet && !a.allowRead(w, r) {
			a.problem(w, http.StatusTooManyRequests, nil)
			return
		}
	} else {
		h.Set("Server", "vulnapi/0.1.0 (Go 1.26; SQLite 3.46.0)")
		h.Set("X-Powered-By", "Go net/http")
		if o := r.Header.Get("Origin"); o != "" { // reflects any origin, with credentials
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method == http.MethodTrace { // echoes the request, credentials included
			h.Set("Content-Type", "message/http")
			_ = r.Write(w)
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

type principal struct {
	ID    int64
	Role  string
	Token string // jti
}

type ctxKey struct{}

func (a *API) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if err != nil {
			a.problem(w, http.StatusUnauthorized, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	}
}

func (a *API) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Fixed && current(r).Role != "admin" {
			a.problem(w, http.StatusForbidden, nil)
			return
		}
		next(w, r) // vulnerable build: any logged-in user is an admin here
	}
}

func current(r *http.Request) *principal { p, _ := r.Context().Value(ctxKey{}).(*principal); return p }

func (a *API) authenticate(r *http.Request) (*principal, error) {
	if a.opts.TrustGatewayHeaders {
		if sub := r.Header.Get("X-Gatehouse-Subject"); sub != "" {
			id, err := strconv.ParseInt(sub, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad gateway subject %q", sub)
			}
			role := "user"
			for _, x := range strings.Split(r.Header.Get("X-Gatehouse-Roles"), ",") {
				if strings.TrimSpace(x) == "admin" {
					role = "admin"
				}
			}
			return &principal{ID: id, Role: role}, nil
		}
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return nil, errors.New("missing bearer token")
	}
	claims, err := a.verify(tok)
	if err != nil {
		return nil, err
	}
	sub, _ := claims["sub"].(string)
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad subject %q", sub)
	}
	role, _ := claims["role"].(string)
	jti, _ := claims["jti"].(string)
	return &principal{ID: id, Role: role, Token: jti}, nil
}

var b64 = base64.RawURLEncoding

func (a *API) sign(claims map[string]any) string {
	hdr := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	in := hdr + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(in))
	return in + "." + b64.EncodeToString(mac.Sum(nil))
}

func (a *API) verify(tok string) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token")
	}
	var hdr struct{ Alg string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" {
		return nil, errors.New("bad token header")
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("bad signature")
	}
	var claims map[string]any
	cb, err := b64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, errors.New("bad claims")
	}
	if a.opts.Fixed { // the vulnerable build checks neither expiry nor logout
		exp, ok := claims["exp"].(float64)
		if !ok || a.opts.Now().Unix() >= int64(exp) {
			return nil, errors.New("token expired")
		}
		jti, _ := claims["jti"].(string)
		a.mu.Lock()
		revoked := a.revoked[jti]
		a.mu.Unlock()
		if revoked {
			return nil, errors.New("token revoked")
		}
	}
	return claims, nil
}

// Token mints a token for a seeded or registered user the way login does.
func (a *API) Token(id int64, role string) string {
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	claims := map[string]any{"sub": strconv.FormatInt(id, 10), "role": role,
		"iat": a.opts.Now().Unix(), "jti": hex.EncodeToString(jti)}
	if a.opts.Fixed {
		claims["exp"] = a.opts.Now().Add(15 * time.Minute).Unix()
	}
	return a.sign(claims)
}

func (a *API) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problem answers an error. The vulnerable build leaks the error text and a
// Go stack trace on 5xx; the fixed build sends a generic body.
func (a *API) problem(w http.ResponseWriter, status int, err error) {
	if a.opts.Fixed || status < 500 {
		body := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status}
		if !a.opts.Fixed && err != nil {
			body["detail"] = err.Error()
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "internal error: %v\n\ngoroutine 1 [running]:\n%s", err, debug.Stack())
}

// badInput is how each build answers unparseable input: the vulnerable one
// crashes into a 500 with the error and a stack trace.
func (a *API) badInput(w http.ResponseWriter, err error) {
	if a.opts.Fixed {
		a.problem(w, http.StatusBadRequest, nil)
		return
	}
	a.problem(w, http.StatusInternalServerError, err)
}
