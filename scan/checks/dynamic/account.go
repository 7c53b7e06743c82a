package dynamic

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// freshAccount makes a registration body name a new account: the user
// field (user) and every other e-mail-like string field get fresh
// "ghscan<hex>" values (an address for e-mail fields), and the password
// field (pass), unless keepPass, a strong random password. Without it a
// second registration in one scan, or the next scan, collides with an
// account that exists ("User already exists") and tests nothing. It
// returns the account name and password it set.
func freshAccount(body map[string]any, user, pass string, keepPass bool) (name, password string) {
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	tag := "ghscan" + hex.EncodeToString(rnd[:])
	for k, v := range body {
		if _, ok := v.(string); !ok || k == pass {
			continue
		}
		if strings.Contains(strings.ToLower(k), "mail") {
			body[k] = tag + "@example.com"
		}
	}
	name = tag
	if strings.Contains(strings.ToLower(user), "mail") {
		name = tag + "@example.com"
	}
	body[user] = name
	if !keepPass {
		body[pass] = strongPassword("-scan-Pw9")
	}
	p, _ := body[pass].(string)
	return name, p
}

// registrationFields returns the user and password fields of a POST body
// that registers an account, aligned with the login's field names (luser,
// lpass) when the body uses them; "" when the body is no registration.
func registrationFields(body map[string]any, luser, lpass string) (user, pass string) {
	fields := map[string]string{}
	for k, v := range body {
		if s, ok := v.(string); ok {
			fields[k] = s
		}
	}
	user, pass = loginFields(fields)
	if _, ok := fields[luser]; ok && luser != "" {
		user = luser
	}
	if _, ok := fields[lpass]; ok && lpass != "" {
		pass = lpass
	}
	if user == "" || pass == "" || !strings.Contains(strings.ToLower(pass), "pass") {
		return "", ""
	}
	return user, pass
}

// scanLogin returns the login operation of the scan's first identity that
// logs in with fields, and its user and password field names; nil when no
// identity does.
// noLoginIdentity is the Skip for a check that needs an identity that logs
// in through the API's login (its fields, a fresh token): nil when the
// API has no login operation (nothing to apply to, "untested"), else the
// reason, so that given tokens never read as "0 findings".
func noLoginIdentity(t *scan.Target) error {
	if len(ops(t, scan.IsLogin)) == 0 {
		return nil
	}
	return scan.Skip("no identity logs in through the API's login operation (the identities are given tokens or headers): give one as NAME=login:<operationId>:user=…,password=… to test it")
}

func scanLogin(t *scan.Target) (op *openapi.Operation, user, pass string) {
	for _, id := range t.Identities {
		if !id.CanLogin() {
			continue
		}
		if o := t.Operation(id.LoginOp); o != nil {
			if u, p := loginFields(id.LoginFields); u != "" && p != "" {
				return o, u, p
			}
		}
	}
	return nil, "", ""
}

// loginRequest prepares login operation op (anonymous) with fields in its
// JSON body, on top of the body the spec's schema suggests.
func loginRequest(t *scan.Target, op *openapi.Operation, fields map[string]string) *scan.Prepared {
	return t.LoginRequest(op, fields)
}
