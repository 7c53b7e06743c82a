package dynamic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/internal/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// UserEnumRounds is how many (unknown user, known user) pairs GH2031 sends
// at most: 2×3 = 6 failed logins, few enough not to trip a lockout.
// UserEnumConfirm is how many consistent differing rounds make a finding
// (a third round is skipped when the login starts throttling, but a round
// that contradicts the first ones cancels the finding).
const (
	UserEnumRounds  = 3
	UserEnumConfirm = 2
)

// UserEnumeration (GH2031) logs in with a surely-unknown username and with a
// known one (taken from a login identity) with a wrong password. When the
// two answers differ in status or in body (after removing volatile parts:
// ids, timestamps, numbers and the echoed usernames) consistently in every
// round, the login tells an attacker which usernames exist. A 429, a
// rate-limit header, a 2xx or a 5xx makes the probe inconclusive (silent).
type UserEnumeration struct{}

var _ scan.Check = UserEnumeration{}

// Meta implements scan.Check.
func (UserEnumeration) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2031", Title: "User enumeration on login", Category: "authn",
		Severity: scan.Medium, OWASP: scan.API2Authn, CWE: "CWE-204",
		Description: "The login operation answers differently for an unknown username and for a known username with a wrong password: an attacker learns which accounts exist and targets them.",
		Remediation: "Answer every failed login with the same status and body (\"invalid credentials\"), and throttle failed logins per client and per account.",
		// It sends a few failed logins: a probe, run before the GH2030/GH2032
		// bursts, which would make a throttled login answer only 429s.
		Intrusive: true,
		Phase:     scan.PhaseProbe,
	}
}

var volatileRe = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\d[t ][0-9:.]+(z|[+-]\d\d:?\d\d)?|[0-9a-f]{16,}|[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]*|\d+`)

// loginShape is a failed login's comparable shape: the status and the body
// with volatile parts and the given (echoed) values replaced.
func loginShape(ex *scan.Exchange, echoed ...string) string {
	b := ex.Body
	for _, e := range echoed {
		if e != "" {
			b = bytes.ReplaceAll(b, []byte(e), []byte("<user>"))
		}
	}
	b = volatileRe.ReplaceAll(b, []byte("#"))
	return fmt.Sprintf("%d %s", ex.Status, bytes.TrimSpace(b))
}

// loginFields returns the username and password field names of a login
// identity's fields.
func loginFields(f map[string]string) (user, pass string) {
	for k := range f {
		l := strings.ToLower(k)
		switch {
		case strings.Contains(l, "pass") || strings.Contains(l, "secret"):
			if pass == "" || k < pass {
				pass = k
			}
		case strings.Contains(l, "user") || strings.Contains(l, "name") || strings.Contains(l, "mail") || strings.Contains(l, "login"):
			if user == "" || k < user {
				user = k
			}
		}
	}
	return user, pass
}

// Run implements scan.Check.
func (UserEnumeration) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool { return scan.IsLogin(op) && op.Method == http.MethodPost }) {
		var known map[string]string
		for _, id := range t.Identities {
			if id.LoginOp == op.ID && len(id.LoginFields) > 0 {
				if u, p := loginFields(id.LoginFields); u != "" && p != "" {
					known = id.LoginFields
					break
				}
			}
		}
		if known == nil {
			continue
		}
		userF, passF := loginFields(known)
		rnd := make([]byte, 6)
		_, _ = rand.Read(rnd)
		unknownUser := "ghscan-nouser-" + hex.EncodeToString(rnd)
		if strings.Contains(strings.ToLower(userF), "mail") {
			unknownUser += "@example.invalid"
		}
		wrongPass := "ghscan-Wrong-Pw-" + hex.EncodeToString(rnd)
		attempt := func(user string) *scan.Prepared {
			p := t.Prepare(op, nil)
			b := p.BodyMap()
			if b == nil {
				b = map[string]any{}
				p.Body = b
			}
			for k, v := range known {
				b[k] = v
			}
			b[userF] = user
			b[passF] = wrongPass
			return p
		}
		pu, pk := attempt(unknownUser), attempt(known[userF])
		var shapeU, shapeK string
		var exU, exK *scan.Exchange
		differs := 0
		for round := 0; round < UserEnumRounds; round++ {
			u, err := t.Send(ctx, pu, nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			k, err := t.Send(ctx, pk, nil)
			if err != nil {
				if err := stopErr(ctx, err); err != nil {
					return err
				}
				break
			}
			if rateLimited(u) || rateLimited(k) || u.OK() || k.OK() || u.Status >= 500 || k.Status >= 500 {
				break // throttled, or not a plain failed login: inconclusive
			}
			su, sk := loginShape(u, unknownUser, known[userF]), loginShape(k, unknownUser, known[userF])
			if su == sk || round > 0 && (su != shapeU || sk != shapeK) {
				differs = 0 // the same answer, or answers that vary by themselves
				break
			}
			shapeU, shapeK, exU, exK = su, sk, u, k
			differs++
		}
		if differs < UserEnumConfirm {
			continue
		}
		what := "body"
		if exU.Status != exK.Status {
			what = fmt.Sprintf("status (%d vs %d)", exU.Status, exK.Status)
		}
		report(scan.Finding{
			Detail: fmt.Sprintf("%s %s answers an unknown username and a known username with a wrong password with a different %s, consistently in %d rounds.", op.Method, op.Template, what, differs),
			Fix:    fmt.Sprintf("rate_limits: { login: { operations: [%s], account_field: /%s, per_ip: { rate: \"5/min\", burst: 5 }, per_account: { rate: \"5/min\", burst: 5 }, lockout: { after_failures: 5, base: 1m, max: 1h } } }", yamlQuote(op.ID), userF),
		}.At(op).With(exU, "unknown username").With(exK, "known username, wrong password"))
	}
	return nil
}
