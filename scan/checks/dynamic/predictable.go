package dynamic

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// TokenSamples is how many logins in a row GH2034 compares.
const TokenSamples = 5

// MinSessionBits is the smallest estimated entropy of the varying part of
// an opaque token or session id that GH2034 accepts (OWASP: at least 64
// bits).
const MinSessionBits = 64

// PredictableTokens (GH2034) logs in TokenSamples times in a row as one
// login identity and compares what each login issued: the token in the
// body and each session-like cookie, separately. Opaque values are
// reported when the part that varies is a counter or a timestamp
// (sequential numbers, high), when its estimated entropy is below
// MinSessionBits (its length times the bits of the smallest character
// class holding it: digits, hex, alphanumerics, base64url; medium), or
// when every login got the same value (sessions are not per login; low).
// For JWTs only the id-like claims (jti, sid, session_id, nonce) are judged
// that way: a signed token that differs only by iat/exp, or not at all, is
// fine. It sends TokenSamples logins plus one that leaves the identity with
// a fresh token (an API that keeps one session per account invalidates the
// older ones); a throttled login ends the sampling, and fewer than 3
// samples give no verdict. State phase, after the login probes.
type PredictableTokens struct{}

var _ scan.Check = PredictableTokens{}

// Meta implements scan.Check.
func (PredictableTokens) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2034", Title: "Predictable session tokens", Category: "authn",
		Severity: scan.High, OWASP: scan.API2Authn, CWE: "CWE-330",
		Description: "Tokens or session ids issued by successive logins are sequential, time-derived, short on randomness or identical: an attacker can guess or reuse another user's session.",
		Remediation: "Generate session ids and token ids from a CSPRNG with at least 128 bits (crypto/rand, secrets.token_urlsafe), a new one per login; or issue signed tokens (JWT) verified on every request.",
		Fix:         "authn: { jwt: [ { issuer: \"https://idp.example.com/\", jwks_url: \"https://idp.example.com/.well-known/jwks.json\", audiences: [my-api], algorithms: [RS256, ES256] } ] }   # signed tokens from an IdP, verified at the gateway",
		Phase:       scan.PhaseState,
	}
}

// tokenVerdict is the judgement of a series of values.
type tokenVerdict struct {
	sev    scan.Severity // 0 = fine
	reason string
}

// jwtIDClaims are the JWT claims that carry a session or token id.
var jwtIDClaims = []string{"jti", "sid", "session_id", "sessionId", "nonce"}

// judgeTokens judges values issued by successive logins, oldest first.
func judgeTokens(vals []string) tokenVerdict {
	if len(vals) < 2 {
		return tokenVerdict{}
	}
	if _, ok := scan.ParseJWT(vals[0]); ok {
		for _, c := range jwtIDClaims {
			var ids []string
			for _, v := range vals {
				j, ok := scan.ParseJWT(v)
				if !ok {
					return tokenVerdict{}
				}
				s := fmt.Sprint(j.Claims[c])
				if j.Claims[c] == nil {
					break
				}
				ids = append(ids, s)
			}
			if len(ids) != len(vals) || allSame(ids) {
				continue // absent, or the same in every token: signed, so fine
			}
			if v := judgeOpaque(ids); v.sev != 0 {
				v.reason = "its " + c + " claim: " + v.reason
				return v
			}
		}
		return tokenVerdict{}
	}
	if allSame(vals) {
		return tokenVerdict{scan.Low, fmt.Sprintf("every one of the %d logins got the same value: sessions are not per login, and one leaked value never expires with a logout", len(vals))}
	}
	return judgeOpaque(vals)
}

func allSame(xs []string) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// varying returns the part of each value between their longest common
// prefix and suffix.
func varying(vals []string) []string {
	pre := vals[0]
	for _, v := range vals[1:] {
		n := 0
		for n < len(pre) && n < len(v) && pre[n] == v[n] {
			n++
		}
		pre = pre[:n]
	}
	suf := vals[0][len(pre):]
	for _, v := range vals[1:] {
		rest := v[len(pre):]
		n := 0
		for n < len(suf) && n < len(rest) && suf[len(suf)-1-n] == rest[len(rest)-1-n] {
			n++
		}
		suf = suf[len(suf)-n:]
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v[len(pre) : len(v)-len(suf)]
	}
	return out
}

// judgeOpaque judges differing opaque values.
func judgeOpaque(vals []string) tokenVerdict {
	mid := varying(vals)
	// A counter or a timestamp: the varying parts are numbers that grow by
	// small steps (a common prefix may hide their leading digits).
	if nums, ok := decimals(mid); ok {
		increasing := true
		var maxStep int64
		for i := 1; i < len(nums); i++ {
			d := new(big.Int).Sub(nums[i], nums[i-1])
			if d.Sign() <= 0 || !d.IsInt64() {
				increasing = false
				break
			}
			maxStep = max(maxStep, d.Int64())
		}
		if increasing && maxStep <= 1_000_000 {
			return tokenVerdict{scan.High, fmt.Sprintf("the varying part is a number that grows with each login (%s, steps of at most %d): a counter or a timestamp, so the neighbouring sessions can be guessed",
				strings.Join(mid, ", "), maxStep)}
		}
	}
	// Positions that vary, when the values have one length; else the
	// shortest varying part.
	n := len(mid[0])
	sameLen := true
	for _, m := range mid {
		n = min(n, len(m))
		sameLen = sameLen && len(m) == len(mid[0])
	}
	if sameLen {
		n = 0
		for i := range mid[0] {
			for _, m := range mid[1:] {
				if m[i] != mid[0][i] {
					n++
					break
				}
			}
		}
	}
	bits := float64(n) * math.Log2(float64(alphabet(strings.Join(mid, ""))))
	if bits < MinSessionBits {
		return tokenVerdict{scan.Medium, fmt.Sprintf("only %d characters vary between logins (about %.0f bits of randomness, below %d): the session space can be searched", n, bits, MinSessionBits)}
	}
	return tokenVerdict{}
}

// decimals parses every value as a non-negative decimal number.
func decimals(xs []string) ([]*big.Int, bool) {
	out := make([]*big.Int, len(xs))
	for i, x := range xs {
		if x == "" || strings.Trim(x, "0123456789") != "" {
			return nil, false
		}
		out[i], _ = new(big.Int).SetString(x, 10)
	}
	return out, true
}

// alphabet returns the size of the smallest usual character class holding
// every character of s: 10 digits, 16 hex digits, 36 or 62 alphanumerics,
// 64 base64url, else 94 printable ASCII.
func alphabet(s string) int {
	switch {
	case strings.Trim(s, "0123456789") == "":
		return 10
	case strings.Trim(strings.ToLower(s), "0123456789abcdef") == "" && (s == strings.ToLower(s) || s == strings.ToUpper(s)):
		return 16
	case strings.Trim(s, "0123456789abcdefghijklmnopqrstuvwxyz") == "" || strings.Trim(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "":
		return 36
	case strings.Trim(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == "":
		return 62
	case strings.Trim(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=") == "":
		return 64
	}
	return 94
}

// Run implements scan.Check.
func (PredictableTokens) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	var id *scan.Identity
	for _, i := range t.Identities {
		if i.CanLogin() && t.Operation(i.LoginOp) != nil && len(i.LoginFields) > 0 {
			id = i
			break
		}
	}
	if id == nil {
		return noLoginIdentity(t)
	}
	op := t.Operation(id.LoginOp)
	samples := map[string][]string{} // "body" or "cookie NAME" → values
	var order []string
	var last *scan.Exchange
	for range TokenSamples {
		p := loginRequest(t, op, id.LoginFields)
		ex, err := t.Send(ctx, p, nil)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			break
		}
		if !ex.OK() || rateLimited(ex) {
			break
		}
		last = ex
		add := func(src, v string) {
			if _, ok := samples[src]; !ok {
				order = append(order, src)
			}
			samples[src] = append(samples[src], v)
		}
		if tok := scan.FindToken(ex.Body); tok != "" {
			add("token", tok)
		}
		for _, c := range sessionCookies(ex) {
			add("cookie "+c.Name, c.Value)
		}
	}
	if err := t.Login(ctx, id); err != nil && scan.Stop(ctx, err) {
		return err
	}
	judged := 0
	for _, src := range order {
		vals := samples[src]
		if len(vals) < 3 {
			continue
		}
		judged++
		v := judgeTokens(vals)
		if v.sev == 0 {
			continue
		}
		report(scan.Finding{Param: src, Key: src, Severity: v.sev,
			Detail: fmt.Sprintf("%d logins in a row as %s through %s %s; the %s values: %s.", len(vals), id.Name, op.Method, op.Template, src, v.reason),
		}.At(op).With(last, fmt.Sprintf("last of %d logins (values redacted)", len(vals))))
	}
	if judged == 0 {
		return scan.Skip("fewer than 3 logins in a row issued a token or session cookie (throttled or refused): no verdict")
	}
	return nil
}
