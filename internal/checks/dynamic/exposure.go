package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// Exposure (GH2020) reads every successful JSON response of the crawl for
// sensitive data: property names (password, password_hash, secret, api_key,
// ssn, card_number, ...) holding a non-empty, unmasked value, and value
// patterns (bcrypt/argon2/hex password hashes, live API keys, AWS keys,
// SSNs and Luhn-valid card numbers next to a telling property name). Tokens
// in login responses are expected and ignored.
type Exposure struct{}

var _ scan.Check = Exposure{}

// Meta implements scan.Check.
func (Exposure) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2020", Title: "Sensitive data exposed in a response", Category: "exposure",
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.High, OWASP: scan.API3Property, CWE: "CWE-213",
		Description: "A response carries secrets or personal data (password hashes, API secrets, SSNs, card numbers) that no client needs.",
		Remediation: "Return explicit response DTOs with only the fields the client needs; never serialize storage models.",
	}
}

var (
	sensitiveName = regexp.MustCompile(`(?i)^(password|passwd|pwd|pass_?hash|password_?hash|hashed_?password|password_?digest|salt|secret|client_?secret|api_?secret|secret_?key|api_?key|private_?key|access_?key|ssn|social_?security(_?number)?|credit_?card(_?number)?|card_?number|cc_?number|pan|cvv|cvc|pin|otp_?secret|mfa_?secret|totp_?secret|refresh_?token|session_?token|reset_?token)$`)
	tokenName     = regexp.MustCompile(`(?i)^(access_?token|id_?token|token|jwt|auth_?token)$`)
	valuePatterns = []struct {
		what string
		re   *regexp.Regexp
		name *regexp.Regexp // nil: any property name
	}{
		{"bcrypt password hash", regexp.MustCompile(`^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$`), nil},
		{"argon2 password hash", regexp.MustCompile(`^\$argon2(id|i|d)\$`), nil},
		{"hex digest in a hash field", regexp.MustCompile(`^[a-f0-9]{32}([a-f0-9]{8}|[a-f0-9]{32}|[a-f0-9]{96})?$`), regexp.MustCompile(`(?i)hash|digest|passw`)},
		{"live API secret", regexp.MustCompile(`^(sk|rk)_live_[A-Za-z0-9]{8,}$`), nil},
		{"AWS access key", regexp.MustCompile(`^AKIA[0-9A-Z]{16}$`), nil},
		{"private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`), nil},
		{"US social security number", regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`), regexp.MustCompile(`(?i)ssn|social`)},
	}
	cardName = regexp.MustCompile(`(?i)card|pan|cc_?num|ccnum`)
	maskedRe = regexp.MustCompile(`^[*xX•#-]{3,}|^\*+[0-9]{0,4}$|^<redacted>$|^(REDACTED|\[redacted\])$`)
)

// Run implements scan.Check.
func (Exposure) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	seen := map[string]bool{}
	for _, ex := range t.Baselines() {
		if !ex.OK() {
			continue
		}
		op := t.Operation(ex.Request.Op)
		if op == nil {
			continue
		}
		var v any
		if json.Unmarshal(ex.Body, &v) != nil {
			continue
		}
		hits := map[string]string{} // property → what
		walkJSON(v, "", func(name string, val any) {
			s, isStr := val.(string)
			if scan.IsLogin(op) && tokenName.MatchString(name) {
				return
			}
			if sensitiveName.MatchString(name) && val != nil && (!isStr || (s != "" && !maskedRe.MatchString(s))) {
				if _, ok := hits[name]; !ok {
					hits[name] = "sensitive property name"
				}
			}
			if !isStr {
				return
			}
			for _, p := range valuePatterns {
				if p.re.MatchString(s) && (p.name == nil || p.name.MatchString(name)) {
					hits[name] = p.what
				}
			}
			if cardName.MatchString(name) && luhn(s) {
				hits[name] = "card number (Luhn-valid)"
			}
		})
		if len(hits) == 0 {
			continue
		}
		names := make([]string, 0, len(hits))
		for n := range hits {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k := op.ID + "\x00" + n
			if seen[k] {
				continue
			}
			seen[k] = true
			report(scan.Finding{Param: n,
				Detail: fmt.Sprintf("%s %s returns property %q to identity %q: %s.", op.Method, op.Template, n, ex.Request.Identity, hits[n]),
				Fix:    fmt.Sprintf("response: { mode: filter, mask_fields: [%s] }", yamlQuote(n)),
			}.At(op).With(ex, "response with "+n))
		}
	}
	return nil
}

// walkJSON calls fn for every object property (name, value), recursively.
func walkJSON(v any, _ string, fn func(name string, val any)) {
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 16 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				fn(k, e)
				walk(e, depth+1)
			}
		case []any:
			for i, e := range x {
				if i >= 200 {
					break
				}
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
}

func luhn(s string) bool {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) < 13 || len(s) > 19 {
		return false
	}
	sum := 0
	for i := range len(s) {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
