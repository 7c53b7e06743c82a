package gateway

import (
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/oasvalidate"
)

// SpecWarnings returns the spec's non-fatal load problems, located at the
// config's spec key, for `gatehouse validate`: unroutable path keys, and
// the OpenAPI 3.0 leftovers and redundancies in a 3.1 document (nullable,
// boolean exclusiveMinimum/Maximum, duplicate required items) that are
// honoured with their 3.0 meaning instead of refusing the document. Each
// message names the spec file, line and column.
func SpecWarnings(cfg *config.Config, p *Pipeline) []config.Problem {
	if p == nil || p.spec == nil {
		return nil
	}
	line, col := cfg.Position("spec")
	var out []config.Problem
	add := func(msg string) {
		out = append(out, config.Problem{Path: "spec", Msg: msg, Warning: true, File: cfg.File, Line: line, Col: col})
	}
	for _, w := range p.spec.Warnings {
		add(w)
	}
	if p.spec.Model != nil {
		for _, w := range oasvalidate.SchemasFor(p.spec.Model).Warnings() {
			add(w)
		}
	}
	return out
}
