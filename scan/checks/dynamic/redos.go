package dynamic

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// ReDoS (GH2056) looks for algorithmic-complexity denial of service on
// string inputs the API is likely to match with a regular expression: a
// declared pattern or format (email, uri, hostname, date...), or a name
// saying so (email, url, phone, date, zip, ip, host...). For each, it sends
// inputs of growing length built to make backtracking matchers explode
// ("aaaa…a!", "a@aaaa…a!", "1111…1x"), one at a time, and reports when
// the answer time grows faster than the input: the extra time over the
// valid request's reaches Unit, and from the previous length to that one
// the time grew by more than (length ratio)^1.5 (linear growth, such as
// hashing or logging the input, is not reported; quadratic and
// exponential growth are), confirmed by sending the slow input again. A
// matcher that gives up or is capped before an answer costs Unit is caught
// by its exponential shape instead (redosExponential).
//
// Inputs: query parameters of GETs and string properties of POST bodies
// (stringPoints), and string properties of PUT and PATCH bodies on the
// identity's own record only: a path whose every parameter is one of the
// probing identity's own values (its username, e-mail, user ID).
//
// Hard caps: the longest input is MaxLen characters; the growth stops at
// the first answer Unit slower than the valid one (so an exponential
// matcher is stopped one step after it shows); the check ends after
// MaxTotal. It runs in the probe phase, alone, so other probes neither add
// their load to the times nor see the target slowed down.
type ReDoS struct {
	// Unit is the extra answer time that counts as significant (0 = 250ms).
	Unit time.Duration
	// MaxLen caps the input length (0 = 8192).
	MaxLen int
	// MaxTotal caps the check's wall time (0 = 60s).
	MaxTotal time.Duration
}

var _ scan.Check = ReDoS{}

// Meta implements scan.Check.
func (ReDoS) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2056", Title: "Algorithmic complexity DoS: answer time grows super-linearly with a pattern-matched input (ReDoS)", Category: "dos",
		Severity: scan.Medium, OWASP: scan.API4Resource, CWE: "CWE-1333",
		Description: "An input crafted for a backtracking regular expression made the answer time grow faster than its length: a few requests with longer inputs can occupy the server's CPU.",
		Remediation: "Match inputs with a linear-time regular expression engine (RE2, Go regexp, Rust regex) or rewrite the pattern without nested quantifiers; cap input lengths before matching.",
		Fix:         "request: { validate: true }   # the contract's maxLength is enforced before the API matches the input",
		Intrusive:   true,
		Phase:       scan.PhaseProbe,
	}
}

var patternNameRe = regexp.MustCompile(`(?i)e-?mail|url|uri$|link|website|homepage|phone|^tel|mobile|fax|date$|^date|time$|zip|post(al)?_?code|(^|_)ip(v[46])?(_?addr(ess)?)?$|host|domain|regex|pattern|iban|ssn|isbn`)

var digitsNameRe = regexp.MustCompile(`(?i)phone|^tel|mobile|fax|date$|^date|time$|zip|postal|(^|_)ip(v[46])?(_?addr(ess)?)?$|iban|ssn|isbn`)

// strPoint is a string input a probe can replace: a query parameter of a
// GET, or a top-level string property of a POST's JSON body.
type strPoint struct {
	op       *openapi.Operation
	in, name string
}

func (sp strPoint) String() string { return sp.in + " " + sp.name }

// set replaces the point's value in p; the rest of p stays valid.
func (sp strPoint) set(p *scan.Prepared, v any) {
	if sp.in == "query" {
		p.Query.Set(sp.name, fmt.Sprint(v))
		return
	}
	if b := p.BodyMap(); b != nil {
		b[sp.name] = v
	}
}

// stringPoints lists the free-form string inputs of t's spec: query
// parameters of GETs, then top-level string properties of POST JSON bodies.
// Login and logout are left out: a probe there is a failed login, which
// belongs to the login checks and their phase, not to a parallel probe.
// PUT and PATCH bodies are left out too: probing them rewrites existing
// objects that other checks read.
func stringPoints(t *scan.Target, noFormat bool) []strPoint {
	var out []strPoint
	for _, op := range ops(t, func(op *openapi.Operation) bool { return op.Method == http.MethodGet }) {
		for _, prm := range openapi.Params(op) {
			if prm != nil && strings.EqualFold(prm.In, "query") && freeString(scan.SchemaOf(prm.Schema), noFormat) {
				out = append(out, strPoint{op, "query", prm.Name})
			}
		}
	}
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodPost && !scan.IsLogin(op) && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	}) {
		bs := bodySchema(op)
		if bs == nil || bs.Properties == nil {
			continue
		}
		for name, ps := range openapi.Properties(bs) {
			if freeString(scan.SchemaOf(ps), noFormat) {
				out = append(out, strPoint{op, "body", name})
			}
		}
	}
	return out
}

// redosKind groups inputs by the evil inputs that fit them.
func redosKind(name string, s *base.Schema) string {
	l := strings.ToLower(name)
	switch {
	case s != nil && s.Format == "email" || strings.Contains(l, "mail"):
		return "email"
	case s != nil && (s.Format == "date" || s.Format == "date-time" || s.Format == "time" || strings.HasPrefix(s.Format, "ipv")) ||
		digitsNameRe.MatchString(l):
		return "digits"
	}
	return "word"
}

// redosInputs returns the evil input of length about n for a kind.
var redosFamilies = map[string][]func(n int) string{
	"email": {
		func(n int) string { return strings.Repeat("a", n) + "!" },
		func(n int) string { return "a@" + strings.Repeat("a", n) + "!" },
	},
	"digits": {
		func(n int) string { return strings.Repeat("1", n) + "x" },
		func(n int) string { return strings.Repeat("a", n) + "!" },
	},
	"word": {
		func(n int) string { return strings.Repeat("a", n) + "!" },
		func(n int) string { return strings.Repeat("1", n) + "x" },
	},
}

// redosLengths: fine steps where exponential matchers blow up, then
// doubling for polynomial ones.
var redosLengths = []int{8, 11, 14, 17, 20, 23, 26, 29, 32, 48, 64, 128, 256, 1024, 4096, 8192}

func redosPoints(t *scan.Target) []strPoint {
	var out []strPoint
	for _, sp := range append(stringPoints(t, false), ownWritePoints(t)...) {
		var s *base.Schema
		if sp.in == "query" {
			for _, prm := range openapi.Params(sp.op) {
				if prm != nil && prm.Name == sp.name {
					s = scan.SchemaOf(prm.Schema)
				}
			}
		} else if bs := bodySchema(sp.op); bs != nil && bs.Properties != nil {
			s = scan.SchemaOf(bs.Properties.GetOrZero(sp.name))
		}
		if s != nil && (s.Pattern != "" || s.Format != "") || patternNameRe.MatchString(sp.name) {
			if !scan.SecretName(sp.name) {
				out = append(out, sp)
			}
		}
	}
	return out
}

// ownWritePoints lists the top-level string properties of PUT and PATCH
// JSON bodies on paths with parameters. They are probed only where the
// prepared path names the probing identity itself (selfPath): the scan
// rewrites its own record, never another's or a shared object.
func ownWritePoints(t *scan.Target) []strPoint {
	var out []strPoint
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		return (op.Method == http.MethodPut || op.Method == http.MethodPatch) && strings.Contains(op.Template, "{") &&
			!scan.IsLogin(op) && !scan.IsLogout(op) && t.Client.Allowed(op.Method)
	}) {
		bs := bodySchema(op)
		if bs == nil || bs.Properties == nil {
			continue
		}
		for name, ps := range openapi.Properties(bs) {
			if freeString(scan.SchemaOf(ps), false) {
				out = append(out, strPoint{op, "body", name})
			}
		}
	}
	return out
}

// selfPath reports whether every path parameter of p is one of id's own
// values (its username, e-mail, user ID): the request addresses id's own
// record.
func selfPath(p *scan.Prepared, id *scan.Identity) bool {
	if id == nil || len(p.Path) == 0 {
		return false
	}
	for _, v := range p.Path {
		if !id.IsSelf(v) {
			return false
		}
	}
	return true
}

// Run implements scan.Check.
func (c ReDoS) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	unit, maxLen, maxTotal := c.Unit, c.MaxLen, c.MaxTotal
	if unit <= 0 {
		unit = 250 * time.Millisecond
	}
	if maxLen <= 0 {
		maxLen = 8192
	}
	if maxTotal <= 0 {
		maxTotal = 60 * time.Second
	}
	start := time.Now()
	for _, sp := range redosPoints(t) {
		op := sp.op
		id := actor(t, op)
		if (op.Method == http.MethodPut || op.Method == http.MethodPatch) && !selfPath(t.Prepare(op, id), id) {
			continue // another's or a shared object: not rewritten
		}
		send := func(v *string) (*scan.Exchange, error) {
			p := t.Prepare(op, id)
			if v != nil {
				sp.set(p, *v)
			}
			ex, err := t.Send(ctx, p, id)
			if err != nil {
				return nil, stopErr(ctx, err)
			}
			return ex, nil
		}
		var times []time.Duration
		usable := true
		for range 3 {
			ex, err := send(nil)
			if err != nil {
				return err
			}
			if ex == nil || ex.Status == http.StatusUnauthorized || ex.Status == http.StatusForbidden || ex.Status == http.StatusTooManyRequests {
				usable = false
				break
			}
			times = append(times, ex.Duration)
		}
		if !usable {
			continue
		}
		fastest := slices.Min(times)
		floor := max(unit/10, 3*(slices.Max(times)-fastest))
		kind := redosKind(sp.name, nil)
		if sp.in == "body" {
			if bs := bodySchema(op); bs != nil && bs.Properties != nil {
				kind = redosKind(sp.name, scan.SchemaOf(bs.Properties.GetOrZero(sp.name)))
			}
		}
		for fi, fam := range redosFamilies[kind] {
			if time.Since(start) > maxTotal {
				return nil
			}
			f, err := redosFamily(op, sp, fam, send, fastest, floor, unit, maxLen, start, maxTotal)
			if err != nil {
				return err
			}
			if f != nil {
				f.Key = fmt.Sprint(fi)
				report(*f)
				break
			}
		}
	}
	return nil
}

type redosPoint struct {
	n     int
	extra time.Duration
	ex    *scan.Exchange
}

func redosFamily(op *openapi.Operation, sp strPoint, fam func(int) string,
	send func(*string) (*scan.Exchange, error), base, floor, unit time.Duration, maxLen int, start time.Time, maxTotal time.Duration) (*scan.Finding, error) {
	measure := func(n int) (*redosPoint, error) {
		v := fam(n)
		ex, err := send(&v)
		if err != nil || ex == nil {
			return nil, err
		}
		pt := &redosPoint{n: n, extra: ex.Duration - base, ex: ex}
		// Load on the scanning machine only ever adds time, so the fastest
		// of a few samples is the input's cost: a second one above the
		// noise floor, and up to three for answers too cheap to tell from a
		// scheduling hiccup (the exponential rule compares sub-millisecond
		// steps). An answer within the tiny band is taken as it is.
		samples := 1
		switch {
		case pt.extra > floor && pt.extra < unit:
			samples = 2
		case pt.extra > redosTiny(unit) && pt.extra <= floor:
			samples = 3
		}
		for range samples - 1 {
			ex2, err := send(&v)
			if err != nil || ex2 == nil {
				return nil, err
			}
			if d := ex2.Duration - base; d < pt.extra {
				pt.extra, pt.ex = d, ex2
			}
		}
		return pt, nil
	}
	var pts []*redosPoint
	for _, n := range redosLengths {
		if n > maxLen || time.Since(start) > maxTotal {
			break
		}
		pt, err := measure(n)
		if err != nil || pt == nil {
			return nil, err
		}
		if pt.ex.Status >= 500 && pt.extra < unit {
			return nil, nil // a crash is GH2040's business
		}
		pts = append(pts, pt)
		if pt.extra >= unit {
			break // significant: no longer inputs
		}
	}
	// The exponential rule first, also when the last input reached Unit: a
	// matcher capped just above Unit grows exponentially and then flat,
	// which the polynomial rule below (last two lengths) would call linear.
	if len(pts) >= 3 {
		if f, err := redosExponential(op, sp, pts, measure, base, floor, unit); f != nil || err != nil {
			return f, err
		}
	}
	if len(pts) < 2 || pts[len(pts)-1].extra < unit {
		return nil, nil
	}
	b, a := pts[len(pts)-1], pts[len(pts)-2]
	growth := float64(b.extra) / float64(max(a.extra, floor))
	want := math.Pow(float64(b.n)/float64(a.n), 1.5)
	if growth < want {
		return nil, nil // linear (or no faster than n^1.5)
	}
	again, err := measure(b.n) // confirm
	if err != nil || again == nil {
		return nil, err
	}
	if again.extra < unit {
		return nil, nil
	}
	var series []string
	for _, p := range pts {
		series = append(series, fmt.Sprintf("%d→%s", p.n, max(p.extra, 0).Round(time.Millisecond)))
	}
	f := scan.Finding{Param: sp.name,
		Detail: fmt.Sprintf("%s %s: %s %s with crafted inputs of growing length answered slower and slower, faster than the length grew (input length → extra time over the valid request's %s: %s; %d→%d characters made it %.0f× slower, linear growth would be %.1f×); the slowest input was slow again when repeated (%s).",
			op.Method, op.Template, sp.in, sp.name, base.Round(time.Microsecond), strings.Join(series, ", "), a.n, b.n, growth, float64(b.n)/float64(a.n), again.extra.Round(time.Millisecond)),
	}.At(op).With(b.ex, fmt.Sprintf("input of %d characters", b.n)).With(a.ex, fmt.Sprintf("input of %d characters", a.n))
	return &f, nil
}

// redosTiny is the extra time below which an answer tells nothing.
func redosTiny(unit time.Duration) time.Duration { return max(unit/1000, 100*time.Microsecond) }

// redosExpMin is the least extra time the exponential rule judges.
const redosExpMin = 2 * time.Millisecond

// expRatio is the growth per 3 extra characters that counts as
// exponential: linear growth from 17 to 20 characters is 1.2×, cubic 1.6×.
const expRatio = 2.5

// redosExponential catches a matcher that grows exponentially but gives up
// (or is capped) before an input costs Unit: among the fine steps of 3
// characters, two successive ones each grew the extra time by expRatio or
// more and the third answer's extra time is at least Unit/50 (and 2ms) and above the
// baseline's spread; the three lengths are then measured again (two
// interleaved rounds, the fastest per length) and must show the same growth.
func redosExponential(op *openapi.Operation, sp strPoint, pts []*redosPoint, measure func(int) (*redosPoint, error),
	base, floor, unit time.Duration) (*scan.Finding, error) {
	tiny := redosTiny(unit)
	grew := func(a, b, c *redosPoint) bool {
		// 2ms at least: sleeps and timers are quantized near 1ms on a
		// loaded machine, which makes a small linear cost step like an
		// exponential one (a false positive in TestReDoS with Unit 40ms).
		return c.n-b.n == 3 && b.n-a.n == 3 && c.extra >= max(unit/50, redosExpMin, floor-unit/10) &&
			float64(b.extra) >= expRatio*float64(max(a.extra, tiny)) && float64(c.extra) >= expRatio*float64(max(b.extra, tiny))
	}
	for i := 2; i < len(pts); i++ {
		a, b, c := pts[i-2], pts[i-1], pts[i]
		if !grew(a, b, c) {
			continue
		}
		// Measured again in two interleaved rounds (a, b, c, a, b, c),
		// keeping the fastest per length: load that rises during the
		// sequence slows the later, longer inputs of one pass, and would
		// pass for growth; interleaved, it slows every length alike.
		var again [3]*redosPoint
		for range 2 {
			for j, n := range []int{a.n, b.n, c.n} {
				p, err := measure(n)
				if err != nil || p == nil {
					return nil, err
				}
				if again[j] == nil || p.extra < again[j].extra {
					again[j] = p
				}
			}
		}
		if !grew(again[0], again[1], again[2]) {
			continue
		}
		var series []string
		for _, p := range pts[:i+1] {
			series = append(series, fmt.Sprintf("%d→%s", p.n, max(p.extra, 0).Round(10*time.Microsecond)))
		}
		f := scan.Finding{Param: sp.name,
			Detail: fmt.Sprintf("%s %s: %s %s with crafted inputs of growing length answered slower and slower, exponentially in the length (input length → extra time over the valid request's %s: %s; each 3 more characters multiplied the time by %.1f× then %.1f×, linear growth would be about 1.2×); measured again: %d→%s, %d→%s, %d→%s. The matcher gives up or is capped before an answer costs %s, but each extra character multiplies the CPU time until then.",
				op.Method, op.Template, sp.in, sp.name, base.Round(time.Microsecond), strings.Join(series, ", "),
				float64(b.extra)/float64(max(a.extra, tiny)), float64(c.extra)/float64(max(b.extra, tiny)),
				again[0].n, max(again[0].extra, 0).Round(10*time.Microsecond), again[1].n, max(again[1].extra, 0).Round(10*time.Microsecond),
				again[2].n, max(again[2].extra, 0).Round(10*time.Microsecond), unit),
		}.At(op).With(again[2].ex, fmt.Sprintf("input of %d characters", c.n)).With(again[0].ex, fmt.Sprintf("input of %d characters", a.n))
		return &f, nil
	}
	return nil, nil
}
