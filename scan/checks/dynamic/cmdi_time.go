package dynamic

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/scan"
)

// CommandInjection (GH2054) is time-based OS command injection: `;sleep N`,
// `|sleep N`, `$(sleep N)` and backticks appended to string query
// parameters, judged like GH2053 (timeProbe: baseline, scaled delays 2 and
// 4 units, a fast 0, a repeat). Unit zero means one second.
type CommandInjection struct{ Unit time.Duration }

var _ scan.Check = CommandInjection{}

// Meta implements scan.Check.
func (CommandInjection) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2054", Title: "OS command injection (time-based)", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-78",
		Description: "A shell sleep appended to a parameter delayed the answer by the requested time, repeatedly and in proportion: the input reaches a shell.",
		Remediation: "Never pass input to a shell; call programs with an argument vector and validate values against an allow-list.",
		Fix:         "request: { validate: true, detect_injection: true }",
		Intrusive:   true,
		// Timing is measured alone (concurrent checks would add their load to
		// the delays), and body probes create objects that would change the
		// lists other checks compare.
		Phase: scan.PhaseProbe,
	}
}

var shellSleeps = []string{";sleep %d;", "|sleep %d", "$(sleep %d)", "`sleep %d`"}

// Run implements scan.Check.
func (c CommandInjection) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	return timeProbe(ctx, t, c.Unit, shellSleeps, report)
}
