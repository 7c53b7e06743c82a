package audit

import (
	"math"
	"sort"

	"github.com/gatehouse/gatehouse/scan"
)

// Weight is what the first finding of a rule costs the score, by the rule's
// severity: critical 15, high 8, medium 4, low 1, info 0.
func Weight(s scan.Severity) float64 {
	switch s {
	case scan.Critical:
		return 15
	case scan.High:
		return 8
	case scan.Medium:
		return 4
	case scan.Low:
		return 1
	}
	return 0
}

// Score is 100 minus the penalty of every rule that fired, rounded to the
// nearest integer and at least 0. A rule with n findings costs
//
//	Weight(severity) × min(1.5, 1 + (n-1)/20)
//
// so the first finding costs the full weight, each further one a twentieth
// of it, and one rule never costs more than 1.5 times its weight: a spec
// with one high and one medium problem on every operation scores
// 100-12-6 = 82, not 0, and fixing a whole class of problems always shows. counts is findings per
// rule ID (ignored findings excluded); sev the severity of each rule.
func Score(counts map[string]int, sev map[string]scan.Severity) int {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic float summation
	penalty := 0.0
	for _, id := range ids {
		n := counts[id]
		if n <= 0 {
			continue
		}
		penalty += Weight(sev[id]) * math.Min(1.5, 1+float64(n-1)/20)
	}
	s := int(math.Round(100 - penalty))
	if s < 0 {
		return 0
	}
	return s
}
