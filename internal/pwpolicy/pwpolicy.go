// Package pwpolicy checks a new password against a policy: length in
// Unicode code points after NFC normalization, no control characters, not
// one of the 10,000 most common passwords (weaklist,
// case-insensitive), and not equal to or containing the user's own
// identifiers (username, email).
//
// A Check returns only a Reason category, never the password or any part
// of it, so callers can log and answer with it safely. Policy values are
// immutable and safe for concurrent use.
package pwpolicy

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse/gatehouse/weaklist"
)

// Reason is the generic category of a rejected password ("" = accepted).
type Reason string

// Reasons.
const (
	OK                Reason = ""
	TooShort          Reason = "too_short"
	TooLong           Reason = "too_long"
	TooCommon         Reason = "too_common"
	ContainsUser      Reason = "contains_user"
	InvalidCharacters Reason = "invalid_characters"
	// InvalidType: the field is present but not a string.
	InvalidType Reason = "invalid_type"
)

// Defaults.
const (
	DefaultMinLength = 12
	// DefaultMaxLength bounds what the upstream has to hash: slow password
	// hashes over megabyte inputs are a denial of service.
	DefaultMaxLength = 128
	// MinUserValue is the shortest username/email value that is looked for
	// inside the password (shorter ones would match by accident).
	MinUserValue = 4
)

// Policy is a password policy. The zero value uses the defaults.
type Policy struct {
	MinLength int // code points after NFC; 0: DefaultMinLength
	MaxLength int // code points after NFC; 0: DefaultMaxLength
}

func (p Policy) limits() (min, max int) {
	min, max = p.MinLength, p.MaxLength
	if min <= 0 {
		min = DefaultMinLength
	}
	if max <= 0 {
		max = DefaultMaxLength
	}
	return min, max
}

// Check judges pw; user holds the user's own identifiers (username, email)
// from the same request. The checks run cheapest first; an over-long input
// is refused on its byte length before it is normalized.
func (p Policy) Check(pw string, user ...string) Reason {
	min, max := p.limits()
	// A code point is at most 4 bytes and NFC never shrinks a string by
	// more than a factor of 3 (decomposed sequences); anything longer than
	// this many bytes is over the limit whatever it holds.
	if len(pw) > 12*max {
		return TooLong
	}
	if !utf8.ValidString(pw) {
		return InvalidCharacters
	}
	for _, r := range pw {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return InvalidCharacters
		}
	}
	pw = norm.NFC.String(pw)
	n := utf8.RuneCountInString(pw)
	if n < min {
		return TooShort
	}
	if n > max {
		return TooLong
	}
	if weaklist.CommonPassword(pw) {
		return TooCommon
	}
	lpw := strings.ToLower(pw)
	for _, u := range user {
		for _, v := range userForms(u) {
			if utf8.RuneCountInString(v) >= MinUserValue && strings.Contains(lpw, v) {
				return ContainsUser
			}
		}
	}
	return OK
}

// userForms returns the lower-cased NFC forms of a user identifier to look
// for: the value itself and, for an email address, its local part.
func userForms(u string) []string {
	u = strings.ToLower(norm.NFC.String(strings.TrimSpace(u)))
	if u == "" {
		return nil
	}
	out := []string{u}
	if at := strings.LastIndexByte(u, '@'); at > 0 {
		out = append(out, u[:at])
	}
	return out
}

// Lookup returns the values of obj's keys that match name the way
// encoding/json matches a struct field: exactly, or case-insensitively
// with Unicode simple folding ("Password", "PASSWORD" and "paſsword" all
// match "password"). Every match is returned, in no particular order: an
// upstream decoder keeps one of them (encoding/json the last in the
// document), so a policy must hold for each.
func Lookup(obj map[string]any, name string) []any {
	var out []any
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			out = append(out, v)
		}
	}
	return out
}
