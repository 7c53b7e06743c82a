package dynamic

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/scan"
)

// Undeclared (GH2021) compares successful JSON responses with the response
// schema of their operation: properties the schema does not declare (where
// it lists properties and does not allow additional ones) are a finding.
type Undeclared struct{}

var _ scan.Check = Undeclared{}

// Meta implements scan.Check.
func (Undeclared) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2021", Title: "Response carries properties the contract does not declare", Category: "exposure",
		Passive:  true, // judges the crawl's answers or the identities' tokens
		Severity: scan.Low, OWASP: scan.API3Property, CWE: "CWE-213",
		Description: "The API returned properties that its response schema does not list: internal data leaking through serialization of storage models.",
		Remediation: "Serialize responses from explicit DTOs matching the contract, or declare the properties if they are meant to be public.",
		Fix:         "response: { mode: filter }",
	}
}

// declared returns the property names s declares (allOf merged) and whether
// it is closed (lists properties, no additionalProperties: true).
func declared(s *base.Schema) (map[string]bool, bool) {
	if s == nil {
		return nil, false
	}
	names := map[string]bool{}
	closed := false
	var add func(s *base.Schema, depth int)
	add = func(s *base.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		if s.Properties != nil {
			for k := range s.Properties.KeysFromOldest() {
				names[k] = true
			}
			closed = true
		}
		for _, p := range s.AllOf {
			add(scan.SchemaOf(p), depth+1)
		}
	}
	add(s, 0)
	if len(s.OneOf) > 0 || len(s.AnyOf) > 0 || s.PatternProperties != nil {
		return nil, false
	}
	if ap := s.AdditionalProperties; ap != nil && (ap.IsB() && ap.B || ap.IsA()) {
		return nil, false
	}
	return names, closed
}

// Run implements scan.Check.
func (Undeclared) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	seen := map[string]bool{}
	for _, ex := range t.Baselines() {
		op := t.Operation(ex.Request.Op)
		if op == nil || !ex.OK() || seen[op.ID] {
			continue
		}
		s := scan.ResponseSchema(op, ex.Status)
		if s == nil {
			continue
		}
		var v any
		if json.Unmarshal(ex.Body, &v) != nil {
			continue
		}
		if arr, ok := v.([]any); ok {
			if s.Items == nil || !s.Items.IsA() || len(arr) == 0 {
				continue
			}
			s = scan.SchemaOf(s.Items.A)
			v = arr[0]
		}
		obj, ok := v.(map[string]any)
		if !ok {
			continue
		}
		names, closed := declared(s)
		if !closed {
			continue
		}
		var extra []string
		for k := range obj {
			if !names[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) == 0 {
			continue
		}
		sort.Strings(extra)
		seen[op.ID] = true
		report(scan.Finding{Detail: fmt.Sprintf("%s %s returns properties its %d response schema does not declare: %s.", op.Method, op.Template, ex.Status, join(extra))}.
			At(op).With(ex, "undeclared: "+join(extra)))
	}
	return nil
}
