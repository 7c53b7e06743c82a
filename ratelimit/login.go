package ratelimit

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/jsonx"
)

// Login configures brute-force protection on login operations: a limit per
// client address and per account, and a progressive lockout of accounts
// whose logins keep failing (the upstream answers 401 or 403, or
// FailureWhen holds).
// Credential stuffing (many addresses, one account) hits the per-account
// limit and the lockout; password spraying (one address, many accounts)
// hits the per-address limit.
type Login struct {
	// Operations lists the login operation IDs (required).
	Operations []string
	// AccountField is the JSON pointer of the account name in the request
	// body (e.g. "/username"); a form-encoded body is read by the pointer's
	// single segment. Names are trimmed and lower-cased. A login whose body
	// has no account value, or two different ones, is refused with 400
	// (ErrNoAccount, ErrAmbiguousAccount) rather than charged to a shared
	// bucket.
	AccountField string
	// ExactAccountField matches the pointer's object keys exactly. The
	// default (false) matches them case-insensitively, the way Go's
	// encoding/json and many other decoders bind "Username" or "USERNAME"
	// to a username field, so another spelling of the key cannot dodge the
	// per-account limit. Set it only when the upstream's decoder is known
	// to be case-sensitive.
	ExactAccountField bool
	// PerAccount limits attempts per account (nil: none).
	PerAccount *Policy
	// PerIP limits attempts per client address (nil: none; a limit with
	// key ip restricted to the login operations does the same).
	PerIP *Policy
	// Lockout locks accounts after repeated failures (nil: none).
	Lockout *LockoutPolicy
	// FailureWhen decides from the upstream's answer whether a login failed
	// (nil: the upstream answered 401 or 403). See CompileFailureWhen.
	FailureWhen *FailureCondition
	// MaxBody bounds the body read for the account name (default 1 MiB;
	// the body is read once and shared with later stages).
	MaxBody int64
	// JSONLimits bound the JSON body (jsonx; zero fields take jsonx's
	// defaults). With the same limits as the other stages of a chain the
	// body is parsed once (httpx.JSON) and every stage judges one view.
	JSONLimits jsonx.Limits
}

// Sentinel errors of the account extraction; the middleware answers 400
// (413 for a body over MaxBody) in enforce mode.
var (
	// ErrNoAccount: the login body has no usable account value (field
	// missing, empty, not a string or number, or the body is not valid JSON
	// or form data).
	ErrNoAccount = errors.New("ratelimit: login without an account value")
	// ErrAmbiguousAccount: the body names two different accounts (keys that
	// differ only in case, repeated form fields, duplicate JSON keys), so
	// the gateway cannot know which one the upstream reads.
	ErrAmbiguousAccount = errors.New("ratelimit: login names more than one account")
)

// maxAccountLen bounds an account value; a longer one is refused as no account.
const maxAccountLen = 1024

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

// account returns the normalized account name in r's body. The JSON body is
// read through jsonx, the parser of every other stage, so exact
// duplicate keys (also when spelled with \u escapes) are refused, never
// resolved differently from the validator. With fold, object keys are
// matched case-insensitively (strings.EqualFold, the Unicode simple folding
// Go's encoding/json uses); every matching member counts, and two
// different values are ErrAmbiguousAccount.
func account(r *http.Request, ptr []string, fold bool, maxBody int64, lim jsonx.Limits) (string, error) {
	body, err := httpx.Body(r, maxBody)
	if err != nil {
		return "", err
	}
	var raw []string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil || len(ptr) != 1 {
			return "", ErrNoAccount
		}
		for k, vs := range v {
			if k == ptr[0] || (fold && strings.EqualFold(k, ptr[0])) {
				raw = append(raw, vs...)
			}
		}
	} else {
		doc, err := httpx.JSON(r, body, lim)
		if errors.Is(err, jsonx.ErrDuplicateKey) {
			return "", ErrAmbiguousAccount
		}
		if err != nil {
			return "", ErrNoAccount
		}
		collect(doc, ptr, fold, &raw)
	}
	acct := ""
	for i, a := range raw {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || len(a) > maxAccountLen {
			return "", ErrNoAccount
		}
		if i > 0 && a != acct {
			return "", ErrAmbiguousAccount
		}
		acct = a
	}
	if acct == "" {
		return "", ErrNoAccount
	}
	return acct, nil
}

// notScalar is what an object, array, bool or null at the pointer
// contributes: the empty value, which refuses the login as ErrNoAccount.
const notScalar = ""

// collect appends the scalar at ptr in v (every member whose key matches,
// when fold is set).
func collect(v any, ptr []string, fold bool, out *[]string) {
	if len(ptr) == 0 {
		switch x := v.(type) {
		case string:
			*out = append(*out, x)
		case json.Number:
			*out = append(*out, x.String())
		default:
			*out = append(*out, notScalar)
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x[ptr[0]]; ok {
			collect(e, ptr[1:], fold, out)
		}
		if fold {
			for k, e := range x {
				if k != ptr[0] && strings.EqualFold(k, ptr[0]) {
					collect(e, ptr[1:], fold, out)
				}
			}
		}
	case []any:
		i, err := strconv.Atoi(ptr[0])
		if err == nil && i >= 0 && i < len(x) && strconv.Itoa(i) == ptr[0] {
			collect(x[i], ptr[1:], fold, out)
		}
	}
}

// accountStatus is the status a refused login gets for err.
func accountStatus(err error) int {
	if errors.Is(err, httpx.ErrBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// accountReason is the audit reason for err.
func accountReason(err error) string {
	switch {
	case errors.Is(err, ErrAmbiguousAccount):
		return "login ambiguous account"
	case errors.Is(err, httpx.ErrBodyTooLarge):
		return "login body too large"
	}
	return "login without account"
}
