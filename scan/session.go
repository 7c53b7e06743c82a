package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
)

// ErrNoSession: a cookie-session login answered 2xx but set no cookie.
var ErrNoSession = errors.New("no session cookie in login response")

// sendLogin sends id's login fields to op (a JSON body, or a form when op
// takes only application/x-www-form-urlencoded) and returns the 2xx
// answer; the answer's values are learnt by id and harvested as its own.
func (t *Target) sendLogin(ctx context.Context, op *openapi.Operation, id *Identity) (*Exchange, error) {
	ex, err := t.Send(ctx, t.LoginRequest(op, id.LoginFields), nil)
	if err != nil {
		return nil, fmt.Errorf("login as %q: %w", id.Name, err)
	}
	if !ex.OK() {
		return nil, fmt.Errorf("login as %q: %s %s answered %d", id.Name, op.Method, op.Template, ex.Status)
	}
	t.Store.Harvest(id.Name, op, ex.Body, true)
	learnSelf(id, ex.Body)
	return ex, nil
}

// LoginRequest prepares login operation op (anonymous) with fields in
// its body, on top of the body the spec's schema suggests: JSON, or a
// URL-encoded form when op takes only that (Prepare chooses).
func (t *Target) LoginRequest(op *openapi.Operation, fields map[string]string) *Prepared {
	p := t.Prepare(op, nil)
	body := p.BodyMap()
	if body == nil {
		body = map[string]any{}
		p.Body = body
	}
	for k, v := range fields {
		body[k] = v
	}
	return p
}

// LoginPassword reports whether a field of login fields (or a
// registration body) holds the password: "pass" or "secret" anywhere in
// its name. Broader than PasswordField, which judges the declared fields
// of any body: here the fields are known to be a login's.
func LoginPassword(k string) bool {
	l := strings.ToLower(k)
	return strings.Contains(l, "pass") || strings.Contains(l, "secret")
}

// LoginUser reports whether a field of login fields (or a registration
// body) names the account ("username", "user", "email", "login"...); a
// LoginPassword field is never one.
func LoginUser(k string) bool {
	l := strings.ToLower(k)
	return !LoginPassword(k) && (strings.Contains(l, "user") || strings.Contains(l, "name") || strings.Contains(l, "mail") || strings.Contains(l, "login"))
}

// csrfName reports whether a cookie or field name carries a CSRF token.
func csrfName(k string) bool {
	l := strings.ToLower(k)
	return strings.Contains(l, "csrf") || strings.Contains(l, "xsrf")
}

// csrfHeaderFor returns the header a CSRF token from cookie (a cookie name;
// "" for a field of the login's answer) is echoed in, by the frameworks'
// conventions: Angular's XSRF-TOKEN cookie → X-XSRF-TOKEN, Django's
// csrftoken cookie → X-CSRFToken, else X-CSRF-Token.
func csrfHeaderFor(cookie string) string {
	switch strings.ToLower(cookie) {
	case "xsrf-token":
		return "X-XSRF-TOKEN"
	case "csrftoken":
		return "X-CSRFToken"
	}
	return "X-CSRF-Token"
}

// loginSession logs a cookie-session identity in: it sends the login and
// keeps the cookies the answer sets (cleared ones left out) as the
// identity's Cookie header. A CSRF token, from a cookie named like
// csrf/xsrf or else from a csrf field of the answer, is echoed in
// id.CSRFHeader (or the header its source's framework uses).
func (t *Target) loginSession(ctx context.Context, id *Identity) error {
	if !id.CanLogin() {
		return fmt.Errorf("identity %q has no login operation", id.Name)
	}
	op := t.Operation(id.LoginOp)
	if op == nil {
		return fmt.Errorf("identity %q: login operation %q is not in the spec", id.Name, id.LoginOp)
	}
	ex, err := t.sendLogin(ctx, op, id)
	if err != nil {
		return err
	}
	var pairs []string
	csrf, source := "", ""
	for _, c := range (&http.Response{Header: ex.Header}).Cookies() {
		if c.Value == "" || c.MaxAge < 0 {
			continue
		}
		pairs = append(pairs, c.Name+"="+c.Value)
		if csrfName(c.Name) && csrf == "" {
			csrf, source = c.Value, c.Name
		}
	}
	if len(pairs) == 0 {
		return fmt.Errorf("login as %q: %w", id.Name, ErrNoSession)
	}
	if csrf == "" {
		var m map[string]any
		if json.Unmarshal(ex.Body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok && s != "" && csrfName(k) {
					csrf, source = s, "" // a field: no cookie convention
				}
			}
		}
	}
	h := http.Header{"Cookie": {strings.Join(pairs, "; ")}}
	if csrf != "" {
		name := id.CSRFHeader
		if name == "" {
			name = csrfHeaderFor(source)
		}
		h.Set(name, csrf)
	}
	id.mu.Lock()
	id.auth = h
	id.mu.Unlock()
	return nil
}
