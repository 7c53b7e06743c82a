package ratelimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Login configures brute-force protection on login operations: a limit per
// client address and per account, and a progressive lockout of accounts
// whose logins keep failing (the upstream answers 401 or 403).
// Credential stuffing (many addresses, one account) hits the per-account
// limit and the lockout; password spraying (one address, many accounts)
// hits the per-address limit.
type Login struct {
	// Operations lists the login operation IDs (required).
	Operations []string
	// AccountField is the JSON pointer of the account name in the request
	// body (e.g. "/username"); a form-encoded body is read by the pointer's
	// single segment. Names are trimmed and lower-cased. A body without the
	// field counts against one shared "no account" bucket.
	AccountField string
	// PerAccount limits attempts per account (nil: none).
	PerAccount *Policy
	// PerIP limits attempts per client address (nil: none; a limit with
	// key ip restricted to the login operations does the same).
	PerIP *Policy
	// Lockout locks accounts after repeated failures (nil: none).
	Lockout *LockoutPolicy
	// MaxBody bounds the body read for the account name (default 1 MiB;
	// the body is read once and shared with later stages).
	MaxBody int64
}

// maxAccounts bounds how many distinct account values one request can
// charge (duplicate JSON keys, repeated form fields).
const maxAccounts = 4

var errNoPointer = errors.New("ratelimit: account_field must be a JSON pointer starting with /")

func parsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, errNoPointer
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
	}
	return segs, nil
}

// accounts returns the normalized, distinct account names in r's body.
// Every value found at the pointer is returned (up to maxAccounts): a body
// with duplicate keys charges each spelling, because the gateway cannot
// know which one the upstream's parser keeps.
func accounts(r *http.Request, ptr []string, maxBody int64) []string {
	body, err := httpx.Body(r, maxBody)
	if err != nil {
		return []string{""}
	}
	var raw []string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		if v, err := url.ParseQuery(string(body)); err == nil && len(ptr) == 1 {
			raw = v[ptr[0]]
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		_ = walkJSON(dec, ptr, &raw, 0)
	}
	var out []string
	for _, a := range raw {
		a = strings.ToLower(strings.TrimSpace(a))
		dup := false
		for _, b := range out {
			dup = dup || a == b
		}
		if !dup && len(out) < maxAccounts {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

const maxWalkDepth = 32

// walkJSON appends every scalar at pointer ptr of the next value in dec.
func walkJSON(dec *json.Decoder, ptr []string, out *[]string, depth int) error {
	if depth > maxWalkDepth {
		return errors.New("too deep")
	}
	if len(ptr) == 0 {
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			*out = append(*out, x)
		case json.Number:
			*out = append(*out, x.String())
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return nil // scalar where a container was expected
	}
	for i := 0; dec.More(); i++ {
		match := false
		if d == '{' {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			match = k == ptr[0]
		} else {
			match = strconv.Itoa(i) == ptr[0]
		}
		if match {
			err = walkJSON(dec, ptr[1:], out, depth+1)
		} else {
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	_, err = dec.Token() // closing delimiter
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
