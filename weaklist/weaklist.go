// Package weaklist holds the embedded lists of weak passwords and secrets
// shared by the scanner (offline HMAC cracking, GH2003), the gateway's
// password policy (registration and password change) and `gatehouse
// validate` (weak hs_secret / admin token): one copy in the binary.
//
// Passwords is the list of the 10,000 most common passwords (see NOTICE for
// its origin and licence); JWTSecrets are secrets seen in JWT tutorials,
// framework defaults and leaked configs. Everything here is read-only after
// package init and safe for concurrent use.
package weaklist

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed passwords-10k.txt
var passwordsText string

// JWTSecrets are secrets seen in JWT tutorials, framework defaults and
// leaked configs, most likely first.
var JWTSecrets = []string{
	"secret", "password", "changeme", "change_me", "change-me", "123456", "12345678", "123456789",
	"key", "jwt", "jwt_secret", "jwt-secret", "jwtsecret", "secretkey", "secret_key", "secret-key",
	"mysecret", "my_secret", "my-secret", "supersecret", "super-secret", "super_secret", "topsecret",
	"s3cr3t", "s3cret", "secret123", "admin", "test", "testing", "dev", "development", "default",
	"token", "your-256-bit-secret", "your_jwt_secret", "your-secret-key", "shhhhh", "keyboard cat",
	"qwerty", "letmein", "password1", "pass", "hello", "welcome", "abc123", "apisecret", "api_secret",
	"private", "privatekey", "signingkey", "app_secret", "appsecret", "example", "demo", "insecure",
	"notasecret", "auth", "Secret", "SECRET", "gatehouse",
}

// Passwords returns the 10,000 most common passwords, most frequent first
// (a fresh slice each call).
func Passwords() []string {
	var out []string
	for _, s := range strings.Split(passwordsText, "\n") {
		if s = strings.TrimRight(s, "\r"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sets returns the lists lower-cased, for CommonPassword and WeakSecret.
// They are built on first use, so a command that never checks a password
// (serve without a password policy) does not pay for them.
var sets = sync.OnceValues(func() (map[string]struct{}, map[string]struct{}) {
	pw := make(map[string]struct{}, 10000)
	for _, s := range Passwords() {
		pw[strings.ToLower(s)] = struct{}{}
	}
	sec := make(map[string]struct{}, len(pw)+len(JWTSecrets))
	for k := range pw {
		sec[k] = struct{}{}
	}
	for _, s := range JWTSecrets {
		sec[strings.ToLower(s)] = struct{}{}
	}
	return pw, sec
})

// CommonPassword reports whether s is in the common-password list,
// compared case-insensitively (the list is lower case; "PassWord" matches).
func CommonPassword(s string) bool {
	pw, _ := sets()
	_, ok := pw[strings.ToLower(s)]
	return ok
}

// WeakSecret reports whether s is a published weak secret: in the
// common-password list or in JWTSecrets, case-insensitively.
func WeakSecret(s string) bool {
	_, sec := sets()
	_, ok := sec[strings.ToLower(s)]
	return ok
}
