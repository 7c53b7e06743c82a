package gateway

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
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
	if openapi.Model(p.spec) != nil {
		set := oasvalidate.SchemasFor(openapi.Model(p.spec))
		for _, w := range set.Warnings() {
			add(w)
		}
		if n := len(set.SkippedPatterns()); n > 0 {
			add(fmt.Sprintf("%d pattern regexp(s) compile in neither RE2 nor ECMAScript; each skips only its own constraint (listed above; spec_strict_patterns: true refuses the spec instead)", n))
		}
	}
	return out
}

// ErrBadPatterns is wrapped by Build's error when spec_strict_patterns is
// set and the spec has a pattern no regexp engine compiles.
var ErrBadPatterns = errors.New("spec has patterns that no regexp engine compiles")

// checkStrictPatterns refuses, with spec_strict_patterns: true, a spec
// whose compiled schemas (request validation, response filter) skipped a
// pattern. With both stages off no pattern is compiled or evaluated.
func checkStrictPatterns(cfg *config.Config, spec *openapi.Spec) error {
	if !cfg.SpecStrictPatterns || spec == nil || openapi.Model(spec) == nil {
		return nil
	}
	skipped := oasvalidate.SchemasFor(openapi.Model(spec)).SkippedPatterns()
	if len(skipped) == 0 {
		return nil
	}
	return config.AtPath("spec_strict_patterns", fmt.Errorf("%w: %s", ErrBadPatterns, strings.Join(skipped, "; ")))
}
