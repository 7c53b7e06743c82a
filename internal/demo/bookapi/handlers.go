package bookapi

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
)

func (a *API) resetDB(w http.ResponseWriter, r *http.Request) {
	a.resets.Add(1)
	if err := a.reset(); err != nil {
		a.message(w, http.StatusInternalServerError, "Reset failed")
		return
	}
	a.message(w, http.StatusOK, "Database reset: all registered users and books deleted, seed data restored.")
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email"`
		Admin    bool   `json:"admin"` // not in the spec: mass assignment
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if in.Username == "" || len(in.Username) > 32 || in.Password == "" {
		a.message(w, http.StatusBadRequest, "Username and password are required")
		return
	}
	if !a.validEmail(in.Email) {
		a.message(w, http.StatusBadRequest, "Please provide a valid email address")
		return
	}
	if a.opts.Fixed {
		if len(in.Password) < MinPassword || strings.EqualFold(in.Password, in.Username) {
			a.message(w, http.StatusBadRequest, "Password too weak: use at least 10 characters")
			return
		}
		in.Admin = false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.users[in.Username] != nil {
		a.json(w, http.StatusBadRequest, map[string]string{"message": "User already exists. Please log in."})
		return
	}
	a.users[in.Username] = &account{Username: in.Username, Email: in.Email, Hash: hashPassword(in.Password), Admin: in.Admin,
		Since: a.opts.Now().UTC().Format("2006-01-02")}
	a.json(w, http.StatusOK, map[string]string{"message": "Successfully registered. Login to receive an auth token."})
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if a.opts.Fixed && a.loginBlocked(r, in.Username) {
		w.Header().Set("Retry-After", "60")
		a.message(w, http.StatusTooManyRequests, "Too many failed logins. Try again later.")
		return
	}
	a.mu.Lock()
	u := a.users[in.Username]
	a.mu.Unlock()
	hash := hashPassword(in.Password)
	switch {
	case u != nil && u.Hash == hash:
		a.json(w, http.StatusOK, map[string]string{"message": "Successfully logged in.", "accessToken": a.Token(u.Username)})
	case a.opts.Fixed:
		a.loginFailed(r, in.Username)
		a.message(w, http.StatusOK, "Username or password is incorrect.")
	case u == nil: // the vulnerable build tells which part was wrong
		a.message(w, http.StatusOK, "Username does not exist")
	default:
		a.message(w, http.StatusOK, "Password is not correct for the given username.")
	}
}

type profile struct {
	Username     string `json:"username"`
	Email        string `json:"email,omitempty"`
	Admin        *bool  `json:"admin,omitempty"`
	MemberSince  string `json:"memberSince,omitempty"`
	PasswordHash string `json:"passwordHash,omitempty"`
}

func (u *account) profile() profile {
	admin := u.Admin
	return profile{Username: u.Username, Email: u.Email, Admin: &admin, MemberSince: u.Since}
}

// sortedUsers returns a snapshot of the accounts ordered by username.
func (a *API) sortedUsers() []account {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]account, 0, len(a.users))
	for _, u := range a.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	out := []profile{}
	for _, u := range a.sortedUsers() {
		if a.opts.Fixed {
			out = append(out, profile{Username: u.Username})
			continue
		}
		p := u.profile() // every member's email and password hash
		p.PasswordHash = u.Hash
		out = append(out, p)
	}
	a.json(w, http.StatusOK, map[string]any{"users": out})
}

// mayAccess reports whether the caller may act on username's data: the
// vulnerable build never asks.
func (a *API) mayAccess(r *http.Request, owner string) bool {
	c := current(r)
	return !a.opts.Fixed || c.Admin || c.Username == owner
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if !a.mayAccess(r, name) {
		a.message(w, http.StatusForbidden, "You are not allowed to view this profile")
		return
	}
	a.mu.Lock()
	u := a.users[name]
	var p profile
	if u != nil {
		p = u.profile()
	}
	a.mu.Unlock()
	if u == nil {
		a.message(w, http.StatusNotFound, "User not found")
		return
	}
	a.json(w, http.StatusOK, p)
}

func (a *API) updateEmail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if !a.mayAccess(r, name) {
		a.message(w, http.StatusForbidden, "You are not allowed to change this account")
		return
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if !a.validEmail(in.Email) {
		a.message(w, http.StatusBadRequest, "Please provide a valid email address")
		return
	}
	a.mu.Lock()
	u := a.users[name]
	if u != nil {
		u.Email = in.Email
	}
	a.mu.Unlock()
	if u == nil {
		a.message(w, http.StatusNotFound, "User not found")
		return
	}
	a.message(w, http.StatusOK, "Email updated.")
}

// changePassword sets the password of the account the path names. The
// vulnerable build never asks whose account it is (any logged-in member
// takes over any other); the fixed build lets members change only their
// own, to a password of MinPassword characters or more.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if a.opts.Fixed && current(r).Username != name {
		a.message(w, http.StatusForbidden, "You can only change your own password")
		return
	}
	var in struct {
		NewPassword string `json:"newPassword"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if in.NewPassword == "" || len(in.NewPassword) > 128 {
		a.message(w, http.StatusBadRequest, "newPassword is required (128 characters at most)")
		return
	}
	if a.opts.Fixed && len(in.NewPassword) < MinPassword {
		a.message(w, http.StatusBadRequest, "Password too weak: use at least 10 characters")
		return
	}
	a.mu.Lock()
	u := a.users[name]
	if u != nil {
		u.Hash = hashPassword(in.NewPassword)
	}
	a.mu.Unlock()
	if u == nil {
		a.message(w, http.StatusNotFound, "User not found")
		return
	}
	a.message(w, http.StatusOK, "Password updated.")
}

func (a *API) exportUsers(w http.ResponseWriter, r *http.Request) {
	if a.opts.Fixed && !current(r).Admin {
		a.message(w, http.StatusForbidden, "Administrators only")
		return
	}
	out := []profile{}
	for _, u := range a.sortedUsers() {
		out = append(out, u.profile())
	}
	a.json(w, http.StatusOK, map[string]any{"users": out})
}

func (a *API) listBooks(w http.ResponseWriter, r *http.Request) {
	rows, err := a.database().Query(`SELECT title, owner FROM books ORDER BY title`)
	if err != nil {
		a.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	defer rows.Close()
	type item struct {
		Title string `json:"bookTitle"`
		Owner string `json:"owner"`
	}
	out := []item{}
	for rows.Next() {
		var it item
		if rows.Scan(&it.Title, &it.Owner) == nil {
			out = append(out, it)
		}
	}
	a.json(w, http.StatusOK, map[string]any{"books": out})
}

// crash is the vulnerable build's unhandled exception: the process dies.
// Under Start the http.Server shuts down; as a bare handler the API drops
// this and every later connection.
func (a *API) crash() {
	a.crashes.Add(1)
	a.down.Store(true)
	if a.onCrash != nil {
		go a.onCrash()
	}
	panic(http.ErrAbortHandler)
}

func (a *API) addBook(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title  string `json:"bookTitle"`
		Author string `json:"author"`
		Year   *int   `json:"year"`
		Note   string `json:"note"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		if !a.opts.Fixed {
			a.crash()
		}
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if in.Title == "" || len(in.Title) > 100 || in.Author == "" || len(in.Author) > 100 || len(in.Note) > 500 {
		a.message(w, http.StatusBadRequest, "bookTitle and author are required (100 characters at most)")
		return
	}
	year := 0
	if in.Year != nil {
		year = *in.Year
	}
	if a.opts.Fixed && (year < 0 || year > 3000) {
		a.message(w, http.StatusBadRequest, "year must be between 0 and 3000")
		return
	}
	_, err := a.database().Exec(`INSERT INTO books (title, author, year, owner, note) VALUES (?,?,?,?,?)`, in.Title, in.Author, year, current(r).Username, in.Note)
	if err != nil {
		a.message(w, http.StatusBadRequest, "Book already exists")
		return
	}
	a.message(w, http.StatusOK, "Book added.")
}

type book struct {
	Title  string `json:"bookTitle"`
	Author string `json:"author"`
	Year   int    `json:"year"`
	Owner  string `json:"owner"`
	Note   string `json:"note,omitempty"`
}

func (a *API) loadBook(title string) (book, error) {
	var b book
	var note sql.NullString
	err := a.database().QueryRow(`SELECT title, author, year, owner, note FROM books WHERE title = ?`, title).
		Scan(&b.Title, &b.Author, &b.Year, &b.Owner, &note)
	b.Note = note.String
	return b, err
}

// dbError answers a database error: the vulnerable build passes the
// driver's message on, as many Express error handlers do.
func (a *API) dbError(w http.ResponseWriter, err error) {
	if a.opts.Fixed {
		a.message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	a.message(w, http.StatusInternalServerError, err.Error())
}

func (a *API) getBook(w http.ResponseWriter, r *http.Request) {
	title := r.PathValue("book_title")
	var b book
	var err error
	if a.opts.Fixed {
		b, err = a.loadBook(title)
	} else { // SQL built by concatenation: injection through the path
		var note sql.NullString
		err = a.database().QueryRow(`SELECT title, author, year, owner, note FROM books WHERE title = '`+title+`'`).
			Scan(&b.Title, &b.Author, &b.Year, &b.Owner, &note)
		b.Note = note.String
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		a.message(w, http.StatusNotFound, "Book not found")
		return
	case err != nil:
		a.dbError(w, err)
		return
	}
	if !a.mayAccess(r, b.Owner) {
		a.message(w, http.StatusForbidden, "This book belongs to another member")
		return
	}
	a.json(w, http.StatusOK, b)
}

func (a *API) updateBook(w http.ResponseWriter, r *http.Request) {
	title := r.PathValue("book_title")
	var in struct {
		Author *string `json:"author"`
		Year   *int    `json:"year"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		a.message(w, http.StatusBadRequest, "Invalid JSON")
		return
	}
	if a.opts.Fixed {
		b, err := a.loadBook(title)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			a.message(w, http.StatusNotFound, "Book not found")
			return
		case err != nil:
			a.dbError(w, err)
			return
		}
		if !a.mayAccess(r, b.Owner) {
			a.message(w, http.StatusForbidden, "This book belongs to another member")
			return
		}
		if in.Author != nil && (*in.Author == "" || len(*in.Author) > 100) || in.Year != nil && (*in.Year < 0 || *in.Year > 3000) {
			a.message(w, http.StatusBadRequest, "author must have 1 to 100 characters, year be between 0 and 3000")
			return
		}
		if _, err := a.database().Exec(`UPDATE books SET author = COALESCE(?, author), year = COALESCE(?, year) WHERE title = ?`, in.Author, in.Year, title); err != nil {
			a.dbError(w, err)
			return
		}
		a.message(w, http.StatusOK, "Book updated.")
		return
	}
	// Vulnerable: no owner check, and the author goes into the SQL text.
	set := "year = COALESCE(?, year)"
	if in.Author != nil {
		set = "author = '" + *in.Author + "', " + set
	}
	res, err := a.database().Exec(`UPDATE books SET `+set+` WHERE title = ?`, in.Year, title)
	if err != nil {
		a.dbError(w, err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		a.message(w, http.StatusNotFound, "Book not found")
		return
	}
	a.message(w, http.StatusOK, "Book updated.")
}
