package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
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
		// A digest is a password hash only under a password-like name: the
		// hash of a public document (content_hash, sha256, etag) is not.
		{"hex digest in a password hash field", regexp.MustCompile(`^[a-f0-9]{32}([a-f0-9]{8}|[a-f0-9]{32}|[a-f0-9]{96})?$`), regexp.MustCompile(`(?i)passw|pwd|pass_?hash|secret`)},
		{"live API secret", regexp.MustCompile(`^(sk|rk)_live_[A-Za-z0-9]{8,}$`), nil},
		{"AWS access key", regexp.MustCompile(`^AKIA[0-9A-Z]{16}$`), nil},
		{"private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`), nil},
		{"US social security number", regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`), regexp.MustCompile(`(?i)ssn|social`)},
	}
	// verifierName: credentials the server checks against (password
	// hashes, salts, private keys): no client needs its own either.
	verifierName = regexp.MustCompile(`(?i)^(password|passwd|pwd|pass_?hash|password_?hash|hashed_?password|password_?digest|salt|password_?salt|private_?key|otp_?secret|mfa_?secret|totp_?secret)$`)
	verifierWhat = map[string]bool{"bcrypt password hash": true, "argon2 password hash": true, "hex digest in a password hash field": true, "private key": true}
	cardName     = regexp.MustCompile(`(?i)card|pan|cc_?num|ccnum`)
	maskedRe     = regexp.MustCompile(`^[*xX•#-]{3,}|^\*+[0-9]{0,4}$|^<redacted>$|^(REDACTED|\[redacted\])$`)
)

// Run implements scan.Check.
func (Exposure) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	seen := map[string]bool{}
	crossTried := map[string]bool{}
	var later []func() // own verifiers, after another identity's (high) finding on the same property
	for _, ex := range t.Baselines() {
		if !ex.OK() {
			continue
		}
		op := t.Operation(ex.Request.Op)
		if op == nil {
			continue
		}
		hits, own, mine := sensitiveHits(t, op, ex)
		if len(mine) > 0 {
			src := ex // ex may become a cross-read below
			later = append(later, func() { reportVerifiers(op, src, mine, seen, report) })
		}
		if own && len(hits) == 0 && !crossTried[op.ID+"\x00"+ex.Request.Identity] {
			// The reader's own secret is no finding; read another
			// identity's object the same way instead.
			crossTried[op.ID+"\x00"+ex.Request.Identity] = true
			cx, err := crossRead(ctx, t, op, t.Identity(ex.Request.Identity))
			if err != nil {
				return err
			}
			if cx != nil {
				ex = cx
				hits, _, _ = sensitiveHits(t, op, cx)
			}
		}
		if len(hits) == 0 {
			continue
		}
		names := make([]string, 0, len(hits))
		for n := range hits {
			names = append(names, n)
		}
		sort.Strings(names)
		declared := declaredProps(scan.ResponseSchema(op, ex.Status))
		for _, n := range names {
			k := op.ID + "\x00" + n
			if seen[k] {
				continue
			}
			seen[k] = true
			who, what, _ := strings.Cut(hits[n], "|")
			sev, contract := scan.High, "not declared in the contract"
			if declared[n] {
				sev, contract = scan.Medium, "declared in the contract"
			}
			report(scan.Finding{Param: n, Severity: sev,
				Detail: fmt.Sprintf("%s %s returns property %q to %s: %s, %s.", op.Method, op.Template, n, who, what, contract),
				Fix:    fmt.Sprintf("response: { mode: filter, mask_fields: [%s] }", yamlQuote(n)),
			}.At(op).With(ex, "response with "+n))
		}
	}
	for _, f := range later {
		f()
	}
	return nil
}

// reportVerifiers reports credential verifiers (password hashes, salts,
// private keys) an operation returns to their own owner: medium, as the
// owner learns nothing new, but no client needs them and every response
// carrying them widens where they can leak.
func reportVerifiers(op *openapi.Operation, ex *scan.Exchange, mine map[string]string, seen map[string]bool, report func(scan.Finding)) {
	names := make([]string, 0, len(mine))
	for n := range mine {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k := op.ID + "\x00" + n
		if seen[k] {
			continue
		}
		seen[k] = true
		report(scan.Finding{Param: n, Severity: scan.Medium,
			Detail: fmt.Sprintf("%s %s returns property %q to identity %q, its own owner: %s. A credential verifier is needed by the server only; no client needs its own.", op.Method, op.Template, n, ex.Request.Identity, mine[n]),
			Fix:    fmt.Sprintf("response: { mode: filter, mask_fields: [%s] }", yamlQuote(n)),
		}.At(op).With(ex, "response with "+n))
	}
}

// sensitiveHits returns the sensitive properties of ex's JSON body that
// belong to someone else than the reader (property → "who|what"), and
// whether the body held sensitive values of the reader's own only, and the
// credential verifiers among the reader's own (property → what). An
// object is the reader's own when its owner-like fields name the reader
// (or op is a "me" read); an anonymous reader owns nothing.
func sensitiveHits(t *scan.Target, op *openapi.Operation, ex *scan.Exchange) (hits map[string]string, ownOnly bool, mine map[string]string) {
	var v any
	if json.Unmarshal(ex.Body, &v) != nil {
		return nil, false, nil
	}
	reader := ex.Request.Identity
	hits = map[string]string{}
	mine = map[string]string{}
	own := false
	walkObjects(v, func(obj map[string]any) {
		local := map[string]string{}
		for name, val := range obj {
			s, isStr := val.(string)
			if scan.IsLogin(op) && tokenName.MatchString(name) {
				continue
			}
			if sensitiveName.MatchString(name) && val != nil && (!isStr || (s != "" && !maskedRe.MatchString(s))) {
				if _, ok := local[name]; !ok {
					local[name] = "sensitive property name"
				}
			}
			if !isStr {
				continue
			}
			for _, p := range valuePatterns {
				if p.re.MatchString(s) && (p.name == nil || p.name.MatchString(name)) {
					local[name] = p.what
				}
			}
			if cardName.MatchString(name) && luhn(s) {
				local[name] = "card number (Luhn-valid)"
			}
		}
		if len(local) == 0 {
			return
		}
		owner := t.OwnerOf(obj)
		if reader != "" && (owner == reader || owner == "" && scan.IsMe(op)) {
			own = true
			for n, w := range local {
				if verifierName.MatchString(n) || verifierWhat[w] {
					mine[n] = w
				}
			}
			return
		}
		who := "identity \"" + reader + "\""
		switch {
		case reader == "":
			who = "an anonymous caller"
		case owner != "":
			who = fmt.Sprintf("identity %q (the object is identity %q's)", reader, owner)
		}
		for n, w := range local {
			hits[n] = who + "|" + w
		}
	})
	return hits, own && len(hits) == 0, mine
}

// crossRead reads, as reader, an object of op that another identity owns
// (nil when op has no path parameter, no such object is known, or the
// read is refused).
func crossRead(ctx context.Context, t *scan.Target, op *openapi.Operation, reader *scan.Identity) (*scan.Exchange, error) {
	if reader == nil || op.Method != http.MethodGet {
		return nil, nil
	}
	params := pathParams(op.Template)
	if len(params) == 0 {
		return nil, nil
	}
	for _, o := range t.Identities {
		if o == reader {
			continue
		}
		for _, v := range t.OwnedParam(op, params[0], o) {
			if reader.IsSelf(v) || contains(t.OwnedParam(op, params[0], reader), v) {
				continue
			}
			p := t.Prepare(op, reader)
			p.Path[params[0]] = v
			ex, err := t.Send(ctx, p, reader)
			if err != nil {
				return nil, stopErr(ctx, err)
			}
			if granted(ex) {
				return ex, nil
			}
			return nil, nil
		}
	}
	return nil, nil
}

// walkObjects calls fn for every JSON object in v (depth ≤ 16, ≤ 200 items
// per array).
func walkObjects(v any, fn func(map[string]any)) {
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 16 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			fn(x)
			for _, e := range x {
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

// declaredProps returns every property name declared anywhere in s
// (properties, items, allOf/oneOf/anyOf; depth ≤ 8).
func declaredProps(s *base.Schema) map[string]bool {
	out := map[string]bool{}
	var walk func(s *base.Schema, depth int)
	walk = func(s *base.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		if s.Properties != nil {
			for k, ps := range openapi.Properties(s) {
				out[k] = true
				walk(scan.SchemaOf(ps), depth+1)
			}
		}
		if s.Items != nil && s.Items.IsA() {
			walk(scan.SchemaOf(s.Items.A), depth+1)
		}
		for _, alts := range [][]*base.SchemaProxy{s.AllOf, s.OneOf, s.AnyOf} {
			for _, a := range alts {
				walk(scan.SchemaOf(a), depth+1)
			}
		}
	}
	walk(s, 0)
	return out
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
