// Package scan is gatehouse's dynamic API security tester: it drives a
// running API along its OpenAPI contract with one or more identities and
// reports the blunders it can prove (broken authentication, BOLA, BFLA,
// excessive data exposure, mass assignment, missing rate limits, leaky
// errors, injection, misconfiguration).
//
// The model follows nuclei's protocols/output/reporting split: a Check is a
// small unit with stable metadata that reports Findings through a callback;
// a Runner crawls the API once (building valid requests from the spec and
// harvesting object IDs), runs the checks against a Target whose Client
// enforces a request budget, a rate, a concurrency limit and safe mode, and
// returns a Result that reporters in scan/report render.
//
// Checks are written for low false positives: each one compares with a
// baseline response and confirms before reporting. Evidence is redacted
// (Authorization, cookies, tokens) before it leaves the Target.
package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Severity ranks a finding. The zero value means "unset" and is replaced by
// the check's default severity when the finding is reported.
type Severity int

// Severities, lowest first.
const (
	SeverityUnset Severity = iota
	Info
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"unset", "info", "low", "medium", "high", "critical"}

// String returns the lower-case name ("high").
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses "info", "low", "medium", "high" or "critical".
func ParseSeverity(v string) (Severity, error) {
	for i, n := range severityNames {
		if i > 0 && strings.EqualFold(v, n) {
			return Severity(i), nil
		}
	}
	return SeverityUnset, fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", v)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// OWASP API Security Top 10 (2023) categories.
const (
	API1BOLA           = "API1:2023 Broken Object Level Authorization"
	API2Authn          = "API2:2023 Broken Authentication"
	API3Property       = "API3:2023 Broken Object Property Level Authorization"
	API4Resource       = "API4:2023 Unrestricted Resource Consumption"
	API5BFLA           = "API5:2023 Broken Function Level Authorization"
	API8Misconfig      = "API8:2023 Security Misconfiguration"
	API10UnsafeConsume = "API10:2023 Unsafe Consumption of APIs"
)

// Meta describes a check. It is static: the same for every run.
type Meta struct {
	// ID is stable across releases: GH2xxx for dynamic checks.
	ID    string `json:"id"`
	Title string `json:"title"`
	// Category is the short group name usable in --checks ("authn", "bola",
	// "bfla", "exposure", "mass-assignment", "ratelimit", "errors",
	// "injection", "misconfig").
	Category string   `json:"category"`
	Severity Severity `json:"severity"`
	// OWASP is the OWASP API Top 10 2023 category, e.g. API1BOLA.
	OWASP string `json:"owasp"`
	// CWE is "CWE-639" style.
	CWE string `json:"cwe"`
	// Intrusive checks send payloads that may change or stress the target
	// (injection, bursts, mutations); --safe skips them.
	Intrusive bool `json:"intrusive"`
	// Description says what the check proves, Remediation how to fix the API,
	// Fix the gatehouse config snippet that blocks it at the gateway.
	Description string `json:"description"`
	Remediation string `json:"remediation"`
	Fix         string `json:"fix"`
	// Passive checks send no requests of their own: they judge the crawl's
	// answers or the identities' tokens. Their coverage is every operation
	// the crawl got an answer for.
	Passive bool `json:"passive,omitempty"`
	// Phase says when the check runs: PhaseParallel checks first, two at a
	// time; every later phase runs after the previous one finished, its
	// checks one by one in ID order.
	Phase Phase `json:"-"`
}

// Phase orders checks that must not run concurrently with others, or that
// disturb the target for the checks after them. Non-destructive probes go
// before state changes, and bursts that can trip rate limits or lock
// accounts go last, so a throttled API still answers the probes truthfully.
type Phase int

// Phases, in the order they run.
const (
	// PhaseParallel: ordinary read-mostly checks, run concurrently first.
	PhaseParallel Phase = iota
	// PhaseProbe: non-destructive probes that need a quiet target: login
	// probes that must see the login before anything throttles it (user
	// enumeration, NoSQL login bypass: a handful of failed logins, below
	// lockouts) and time-based probes, whose delays concurrent checks would
	// blur.
	PhaseProbe
	// PhaseState: checks that change server state other checks rely on
	// (logging tokens out, escalating privileges).
	PhaseState
	// PhaseBurst: bounded bursts that can trip rate limits or lockouts
	// (login and read rate-limit probes). They run last.
	PhaseBurst
)

var phaseNames = [...]string{"parallel", "probe", "state", "burst"}

// String returns the phase name ("burst").
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// Check is one dynamic test. Implementations must be safe to run
// concurrently with other checks against the same Target; Run must stop when
// ctx is done and should return only errors that made the check unable to
// run (ErrBudget, the target being down), never "nothing found".
type Check interface {
	Meta() Meta
	Run(ctx context.Context, t *Target, report func(Finding)) error
}

// Evidence is one redacted request/response excerpt backing a finding.
type Evidence struct {
	Note     string `json:"note,omitempty"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

// Finding is one proven problem. Checks fill CheckID-independent fields
// (Operation, Param, Detail, Evidence, Curl); the Runner fills the rest from
// the check's Meta when left empty, and computes Fingerprint and ID.
type Finding struct {
	// ID is "<check id>-<first 10 hex of fingerprint>", unique in a result.
	ID        string   `json:"id"`
	CheckID   string   `json:"check_id"`
	Title     string   `json:"title"`
	Severity  Severity `json:"severity"`
	OWASP     string   `json:"owasp"`
	CWE       string   `json:"cwe"`
	Operation string   `json:"operation,omitempty"` // operationId ("" for target-wide findings)
	Method    string   `json:"method,omitempty"`
	Path      string   `json:"path,omitempty"` // path template
	Param     string   `json:"param,omitempty"`
	// Pointer is the JSON pointer of the operation in the spec, Line its
	// line in the spec file (0 when unknown).
	Pointer     string     `json:"pointer,omitempty"`
	Line        int        `json:"line,omitempty"`
	Detail      string     `json:"detail"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	Curl        string     `json:"curl,omitempty"`
	Remediation string     `json:"remediation"`
	Fix         string     `json:"fix,omitempty"`
	Fingerprint string     `json:"fingerprint"`
	// Key distinguishes findings of one check on one operation and parameter
	// (e.g. the JWT variant); it is part of the fingerprint.
	Key string `json:"-"`
}

// ComputeFingerprint returns the stable fingerprint of f: a hash of check ID,
// method, path template, parameter and key. It does not depend on the target
// URL, data or time, so a baseline file stays valid across runs.
func (f *Finding) ComputeFingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.CheckID, f.Method, f.Path, f.Param, f.Key}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// CheckRun records what one check did in a scan.
type CheckRun struct {
	Meta Meta `json:"meta"`
	// Operations lists the operation IDs the check sent requests for
	// ("" for target-wide requests), sorted.
	Operations []string `json:"operations"`
	Requests   int      `json:"requests"`
	Findings   int      `json:"findings"`
	// Error is set when the check could not finish (budget, target down).
	Error    string        `json:"error,omitempty"`
	Skipped  string        `json:"skipped,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Status sums up the coverage: "tested" (at least one operation or
	// target-wide probe tested), "skipped" (Skipped says why), "not_run"
	// (the target was down or the budget spent before anything was
	// tested; Reason says which) or "untested" (the check found nothing in
	// this API to apply to: no request, no mark).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Coverage lists, for every operation of the spec (and "" for
	// target-wide requests), whether this check tested it, skipped it (and
	// why), could not run it (target down) or found it not applicable.
	Coverage []OpCoverage `json:"coverage,omitempty"`
}

// OpCoverage is one check's coverage of one operation.
type OpCoverage struct {
	Operation string `json:"operation"` // operationId; "" = target-wide
	Status    string `json:"status"`    // tested, skipped, not_run, not_applicable
	Reason    string `json:"reason,omitempty"`
	Requests  int    `json:"requests"`
	// Throttled counts the probes whose answer was still rate limited
	// (429, or 503 with Retry-After) after waiting and resending: those
	// probes tested nothing. All of them throttled makes the operation
	// skipped, some of them "tested" with a "partly" reason.
	Throttled int `json:"throttled,omitempty"`
}

// Counts returns how many operations (target-wide entry excluded) have
// each coverage status.
func (c *CheckRun) Counts() map[string]int {
	m := map[string]int{}
	for _, oc := range c.Coverage {
		if oc.Operation != "" {
			m[oc.Status]++
		}
	}
	return m
}

// Result is the outcome of one scan. Findings are sorted by severity
// (highest first), then check ID, operation and parameter.
type Result struct {
	Tool       string     `json:"tool"`
	Version    string     `json:"version"`
	Target     string     `json:"target"`
	Spec       string     `json:"spec"`
	Started    time.Time  `json:"started"`
	Finished   time.Time  `json:"finished"`
	Requests   int        `json:"requests"`
	Identities []string   `json:"identities"`
	Checks     []CheckRun `json:"checks"`
	Findings   []Finding  `json:"findings"`
	// Suppressed counts findings dropped by the baseline.
	Suppressed int `json:"suppressed"`
	// Outages lists the periods the target stopped answering (each is also
	// a GH2070 finding); HealthProbes counts the probes sent to watch it
	// (not part of Requests or the budget).
	Outages      []OutageReport `json:"outages,omitempty"`
	HealthProbes int            `json:"health_probes,omitempty"`
	// ThrottleWaited is the time spent waiting for the target's rate
	// limits to clear before resending a throttled probe (the resends
	// count in Requests).
	ThrottleWaited time.Duration `json:"throttle_waited_ns,omitempty"`
	// Guarded lists the operations the damage guard restricted and why.
	Guarded []GuardedOp `json:"guarded,omitempty"`
	// Cleanup lists the objects the scan created and what the cleanup at
	// its end did with each (deleted, gone, kept and why).
	Cleanup []Created `json:"cleanup,omitempty"`
}

// OutageReport is an Outage as reports show it.
type OutageReport struct {
	Trigger   string        `json:"trigger"` // "METHOD URL"
	Operation string        `json:"operation,omitempty"`
	Check     string        `json:"check,omitempty"`
	Error     string        `json:"error"`
	Down      time.Time     `json:"down"`
	Back      *time.Time    `json:"back,omitempty"`
	Downtime  time.Duration `json:"downtime_ns"`
	Probes    int           `json:"probes"`
}

// GuardedOp is an operation the damage guard restricted.
type GuardedOp struct {
	Operation string `json:"operation"`
	Policy    string `json:"policy"` // "destructive" (never in safe mode, at most once) or "excluded"
	Reason    string `json:"reason"`
	Calls     int    `json:"calls"`
}

// Count returns how many findings are at or above min.
func (r *Result) Count(min Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= min {
			n++
		}
	}
	return n
}
