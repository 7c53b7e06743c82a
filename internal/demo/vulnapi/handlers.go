package vulnapi

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

type user struct {
	ID            int64  `json:"id"`
	Username      string `json:"username"`
	Email         string `json:"email,omitempty"`
	Role          string `json:"role,omitempty"`
	PasswordHash  string `json:"password_hash,omitempty"`
	InternalNotes string `json:"internal_notes,omitempty"`
	APISecret     string `json:"api_secret,omitempty"`
}

// public strips what the fixed build never returns.
func (a *API) view(u user) user {
	if a.opts.Fixed {
		u.PasswordHash, u.InternalNotes, u.APISecret = "", "", ""
	}
	return u
}

func (a *API) loadUser(id int64) (user, error) {
	var u user
	var email, notes, secret sql.NullString
	err := a.db.QueryRow(`SELECT id, username, email, role, password_hash, internal_notes, api_secret FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Username, &email, &u.Role, &u.PasswordHash, &notes, &secret)
	u.Email, u.InternalNotes, u.APISecret = email.String, notes.String, secret.String
	return u, err
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.badInput(w, fmt.Errorf("decode register body: %w", err))
		return
	}
	name, _ := in["username"].(string)
	pw, _ := in["password"].(string)
	email, _ := in["email"].(string)
	if name == "" || len(pw) < 8 {
		a.problem(w, http.StatusBadRequest, errors.New("username and an 8+ character password are required"))
		return
	}
	role := "user"
	if rr, ok := in["role"].(string); ok && !a.opts.Fixed { // mass assignment
		role = rr
	}
	res, err := a.db.Exec(`INSERT INTO users (username, email, password_hash, role) VALUES (?,?,?,?)`, name, email, hashPassword(pw), role)
	if err != nil {
		if a.opts.Fixed {
			a.problem(w, http.StatusConflict, nil)
			return
		}
		a.problem(w, http.StatusInternalServerError, fmt.Errorf("insert user: %w", err))
		return
	}
	id, _ := res.LastInsertId()
	u, err := a.loadUser(id)
	if err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	a.json(w, http.StatusCreated, a.view(u))
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if a.opts.Fixed && !a.allowLogin(r) {
		w.Header().Set("Retry-After", "60")
		a.problem(w, http.StatusTooManyRequests, nil)
		return
	}
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.badInput(w, fmt.Errorf("decode login body: %w", err))
		return
	}
	var id int64
	var hash, role string
	err := a.db.QueryRow(`SELECT id, password_hash, role FROM users WHERE username = ?`, in.Username).Scan(&id, &hash, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		a.loginFailed(w, "unknown user")
		return
	case err != nil:
		a.problem(w, http.StatusInternalServerError, err)
		return
	case hash != hashPassword(in.Password):
		a.loginFailed(w, "invalid password")
		return
	}
	a.json(w, http.StatusOK, map[string]any{"token": a.Token(id, role)})
}

// loginFailed tells the vulnerable build's callers which part was wrong (user
// enumeration); the fixed build answers the same for both.
func (a *API) loginFailed(w http.ResponseWriter, why string) {
	if a.opts.Fixed {
		a.problem(w, http.StatusUnauthorized, nil)
		return
	}
	a.json(w, http.StatusUnauthorized, map[string]any{"error": why})
}

// allowLogin is the fixed build's brute-force limit: 5 attempts per client
// address per minute.
func (a *API) allowLogin(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var recent []time.Time
	for _, t := range a.logins[host] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= 5 {
		a.logins[host] = recent
		return false
	}
	a.logins[host] = append(recent, now)
	return true
}

// allowRead is the fixed build's read limit (ReadLimit per ReadWindow per
// client address); it sets the RateLimit fields on every read it answers.
func (a *API) allowRead(w http.ResponseWriter, r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := a.opts.Now()
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

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if a.opts.Fixed {
		a.mu.Lock()
		a.revoked[current(r).Token] = true
		a.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	rows, err := a.db.Query(`SELECT id FROM users ORDER BY id`)
	if err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	out := []user{}
	for _, id := range ids {
		u, err := a.loadUser(id)
		if err != nil {
			continue
		}
		if a.opts.Fixed {
			u = user{ID: u.ID, Username: u.Username}
		}
		out = append(out, u)
	}
	a.json(w, http.StatusOK, out)
}

func (a *API) searchUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if a.tooLong(w, "name", name, 64) {
		return
	}
	var rows *sql.Rows
	var err error
	if a.opts.Fixed {
		rows, err = a.db.Query(`SELECT id, username FROM users WHERE username LIKE '%' || ? || '%' ORDER BY id`, name)
	} else {
		// SQL injection: the query is built by string concatenation.
		rows, err = a.db.Query("SELECT id, username FROM users WHERE username LIKE '%" + name + "%' ORDER BY id")
	}
	if err != nil {
		a.problem(w, http.StatusInternalServerError, fmt.Errorf("query users: %w", err))
		return
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		var id any
		var username any
		if err := rows.Scan(&id, &username); err != nil {
			a.problem(w, http.StatusInternalServerError, err)
			return
		}
		if b, ok := username.([]byte); ok {
			username = string(b)
		}
		out = append(out, map[string]any{"id": id, "username": username})
	}
	a.json(w, http.StatusOK, out)
}

func (a *API) pathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		a.badInput(w, fmt.Errorf("parse %s: %w", name, err))
		return 0, false
	}
	return id, true
}

// tooLong is the fixed build's check of the contract's maxLength (the
// vulnerable build stores over-long strings: GH2041).
func (a *API) tooLong(w http.ResponseWriter, field, v string, max int) bool {
	if a.opts.Fixed && utf8.RuneCountInString(v) > max {
		a.badInput(w, fmt.Errorf("%s is longer than %d characters", field, max))
		return true
	}
	return false
}

// mayAccess is the ownership check the vulnerable build forgets.
func (a *API) mayAccess(r *http.Request, owner int64) bool {
	if !a.opts.Fixed {
		return true
	}
	p := current(r)
	return p.ID == owner || p.Role == "admin"
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "user_id")
	if !ok {
		return
	}
	if !a.mayAccess(r, id) {
		a.problem(w, http.StatusForbidden, nil)
		return
	}
	u, err := a.loadUser(id)
	if errors.Is(err, sql.ErrNoRows) {
		a.problem(w, http.StatusNotFound, nil)
		return
	} else if err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	a.json(w, http.StatusOK, a.view(u))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "user_id")
	if !ok {
		return
	}
	if !a.mayAccess(r, id) {
		a.problem(w, http.StatusForbidden, nil)
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.badInput(w, fmt.Errorf("decode user patch: %w", err))
		return
	}
	if e, ok := in["email"].(string); ok {
		if a.tooLong(w, "email", e, 254) {
			return
		}
		if _, err := a.db.Exec(`UPDATE users SET email = ? WHERE id = ?`, e, id); err != nil {
			a.problem(w, http.StatusInternalServerError, err)
			return
		}
	}
	if role, ok := in["role"].(string); ok && !a.opts.Fixed { // mass assignment
		if _, err := a.db.Exec(`UPDATE users SET role = ? WHERE id = ?`, role, id); err != nil {
			a.problem(w, http.StatusInternalServerError, err)
			return
		}
	}
	u, err := a.loadUser(id)
	if err != nil {
		a.problem(w, http.StatusNotFound, err)
		return
	}
	a.json(w, http.StatusOK, a.view(u))
}

type note struct {
	ID      int64  `json:"id"`
	OwnerID int64  `json:"owner_id"`
	Text    string `json:"text"`
}

func (a *API) createNote(w http.ResponseWriter, r *http.Request) {
	var in struct{ Text string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.badInput(w, fmt.Errorf("decode note: %w", err))
		return
	}
	if a.tooLong(w, "text", in.Text, 1000) {
		return
	}
	owner := current(r).ID
	res, err := a.db.Exec(`INSERT INTO notes (owner_id, text) VALUES (?, ?)`, owner, in.Text)
	if err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	id, _ := res.LastInsertId()
	a.json(w, http.StatusCreated, note{ID: id, OwnerID: owner, Text: in.Text})
}

func (a *API) getNote(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "note_id")
	if !ok {
		return
	}
	var n note
	err := a.db.QueryRow(`SELECT id, owner_id, text FROM notes WHERE id = ?`, id).Scan(&n.ID, &n.OwnerID, &n.Text)
	if errors.Is(err, sql.ErrNoRows) {
		a.problem(w, http.StatusNotFound, nil)
		return
	} else if err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	if !a.mayAccess(r, n.OwnerID) {
		a.problem(w, http.StatusNotFound, nil) // do not reveal that it exists
		return
	}
	a.json(w, http.StatusOK, n)
}

func (a *API) adminStats(w http.ResponseWriter, r *http.Request) {
	var users, notes int
	_ = a.db.QueryRow(`SELECT count(*) FROM users`).Scan(&users)
	_ = a.db.QueryRow(`SELECT count(*) FROM notes`).Scan(&notes)
	a.json(w, http.StatusOK, map[string]any{"users": users, "notes": notes})
}

func (a *API) setRole(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r, "user_id")
	if !ok {
		return
	}
	var in struct{ Role string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.badInput(w, fmt.Errorf("decode role: %w", err))
		return
	}
	if in.Role != "user" && in.Role != "admin" {
		a.problem(w, http.StatusBadRequest, nil)
		return
	}
	if _, err := a.db.Exec(`UPDATE users SET role = ? WHERE id = ?`, in.Role, id); err != nil {
		a.problem(w, http.StatusInternalServerError, err)
		return
	}
	u, err := a.loadUser(id)
	if err != nil {
		a.problem(w, http.StatusNotFound, err)
		return
	}
	a.json(w, http.StatusOK, a.view(u))
}
