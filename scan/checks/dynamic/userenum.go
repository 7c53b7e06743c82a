package dynamic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// UserEnumRounds is how many (unknown user, known user) pairs GH2031 sends
// at most when the answers differ: 2×3 = 6 failed logins, few enough not
// to trip a lockout. UserEnumConfirm is how many consistent differing
// rounds make a finding (a third round is skipped when the login starts
// throttling, but a round that contradicts the first ones cancels the
// finding). UserEnumTimingRounds is how many pairs it sends in all when
// every answer looked the same, to compare their timing: 4 known-user
// failures, below the usual lockout of 5.
const (
	UserEnumRounds       = 3
	UserEnumConfirm      = 2
	UserEnumTimingRounds = 4
)

// DefaultUserEnumGap is the smallest timing difference GH2031 reports.
const DefaultUserEnumGap = 30 * time.Millisecond

// UserEnumeration (GH2031) logs in with a surely-unknown username and with a
// known one (taken from a login identity) with a wrong password, and
// compares the answers whatever their status (200 with a message, 400,
// 401...): status, body (after removing volatile parts: ids, timestamps,
// numbers and the echoed usernames, so the length is compared too) and
// headers (names, and the values of WWW-Authenticate and Location). When
// they differ consistently in every round, the login tells an attacker
// which usernames exist. When every answer looks the same, the timing of
// the rounds is compared: every known-user answer slower than every
// unknown-user one (1 chance in 70 by luck over 4 rounds) and the medians
// apart by at least MinGap and twice the spread of the unknown-user times
// (a password hash computed only for existing accounts). A 429, a
// rate-limit header, a 5xx or a real login (a token in the answer) makes
// the probe inconclusive (silent).
type UserEnumeration struct {
	// MinGap is the smallest timing difference reported (0 =
	// DefaultUserEnumGap).
	MinGap time.Duration
}

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

// volatileHeaders change by themselves from one answer to the next.
var volatileHeaders = map[string]bool{"Date": true, "Content-Length": true, "X-Request-Id": true, "X-Correlation-Id": true,
	"Etag": true, "Age": true, "X-Response-Time": true, "Server-Timing": true, "Expires": true, "Last-Modified": true,
	"Traceparent": true, "Tracestate": true, "X-Trace-Id": true, "X-Amzn-Requestid": true, "Ratelimit": true, "Ratelimit-Remaining": true,
	"X-Ratelimit-Remaining": true, "X-Ratelimit-Reset": true}

// loginShape is a failed login's comparable shape: the status, the header
// names (and the values of WWW-Authenticate and Location) and the body with
// volatile parts and the given (echoed) values replaced.
func loginShape(ex *scan.Exchange, echoed ...string) string {
	norm := func(b []byte) []byte {
		for _, e := range echoed {
			if e != "" {
				b = bytes.ReplaceAll(b, []byte(e), []byte("<user>"))
			}
		}
		return volatileRe.ReplaceAll(b, []byte("#"))
	}
	var hs []string
	for k := range ex.Header {
		if volatileHeaders[k] {
			continue
		}
		if k == "Www-Authenticate" || k == "Location" {
			hs = append(hs, k+"="+string(norm([]byte(ex.Header.Get(k)))))
			continue
		}
		hs = append(hs, k)
	}
	sort.Strings(hs)
	return fmt.Sprintf("%d [%s] %s", ex.Status, strings.Join(hs, " "), bytes.TrimSpace(norm(ex.Body)))
}

// loginFields returns the username and password field names of a login
// identity's fields.
func loginFields(f map[string]string) (user, pass string) {
	for k := range f {
		switch {
		case scan.LoginPassword(k):
			if pass == "" || k < pass {
				pass = k
			}
		case scan.LoginUser(k):
			if user == "" || k < user {
				user = k
			}
		}
	}
	return user, pass
}

// Run implements scan.Check.
func (c UserEnumeration) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) (err error) {
	skipped, logins := 0, 0
	defer func() {
		if err == nil && logins > 0 && skipped == logins {
			err = noLoginIdentity(t)
		}
	}()
	for _, op := range ops(t, func(op *openapi.Operation) bool { return scan.IsLogin(op) && op.Method == http.MethodPost }) {
		logins++
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
			skipped++
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
			p := t.LoginRequest(op, known)
			b := p.BodyMap()
			b[userF] = user
			b[passF] = wrongPass
			return p
		}
		pu, pk := attempt(unknownUser), attempt(known[userF])
		type round struct {
			su, sk   string
			exU, exK *scan.Exchange
		}
		var rounds []round
		for i := 0; i < UserEnumTimingRounds; i++ {
			if i >= UserEnumRounds && rounds[0].su != rounds[0].sk {
				break // the answers differ: no timing rounds needed
			}
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
			if rateLimited(u) || rateLimited(k) || u.Status >= 500 || k.Status >= 500 ||
				u.OK() && scan.FindToken(u.Body) != "" || k.OK() && scan.FindToken(k.Body) != "" {
				break // throttled, or not a plain failed login: inconclusive
			}
			rounds = append(rounds, round{loginShape(u, unknownUser, known[userF]), loginShape(k, unknownUser, known[userF]), u, k})
		}
		if len(rounds) == 0 {
			continue
		}
		consistent := true
		for _, r := range rounds[1:] {
			if r.su != rounds[0].su || r.sk != rounds[0].sk {
				consistent = false // answers that vary by themselves
			}
		}
		exU, exK := rounds[0].exU, rounds[0].exK
		var detail, key string
		switch {
		case !consistent:
			continue
		case rounds[0].su != rounds[0].sk:
			if len(rounds) < UserEnumConfirm {
				continue
			}
			what := "body"
			switch {
			case exU.Status != exK.Status:
				what = fmt.Sprintf("status (%d vs %d)", exU.Status, exK.Status)
			case !bytes.Equal(bytes.TrimSpace(exU.Body), bytes.TrimSpace(exK.Body)):
				what = fmt.Sprintf("body (%d vs %d bytes, both %d)", len(exU.Body), len(exK.Body), exU.Status)
			default:
				what = fmt.Sprintf("headers (both %d)", exU.Status)
			}
			detail = fmt.Sprintf("%s %s answers an unknown username and a known username with a wrong password with a different %s, consistently in %d rounds.", op.Method, op.Template, what, len(rounds))
		case len(rounds) == UserEnumTimingRounds:
			var du, dk []time.Duration
			for _, r := range rounds {
				du, dk = append(du, r.exU.Duration), append(dk, r.exK.Duration)
			}
			gap := c.MinGap
			if gap <= 0 {
				gap = DefaultUserEnumGap
			}
			mu, mk, spread := median(du), median(dk), slices.Max(du)-slices.Min(du)
			if slices.Min(dk) <= slices.Max(du) || mk-mu < gap || mk-mu < 2*spread {
				continue
			}
			key = "timing"
			exK = rounds[slices.Index(dk, slices.Max(dk))].exK
			detail = fmt.Sprintf("%s %s answers the same (%d) to an unknown username and to a known one with a wrong password, but the known one is slower in every round: median %s vs %s over %d rounds (a password is checked only for existing accounts).",
				op.Method, op.Template, exK.Status, mk.Round(time.Millisecond), mu.Round(time.Millisecond), len(rounds))
		default:
			continue
		}
		report(scan.Finding{Key: key,
			Detail: detail,
			Fix:    fmt.Sprintf("rate_limits: { login: { operations: [%s], account_field: /%s, per_ip: { rate: \"5/min\", burst: 5 }, per_account: { rate: \"5/min\", burst: 5 }, lockout: { after_failures: 5, base: 1m, max: 1h } } }", yamlQuote(op.ID), userF),
		}.At(op).With(exU, "unknown username").With(exK, "known username, wrong password"))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
