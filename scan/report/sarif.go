package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
)

// SARIF writes a SARIF 2.1.0 log: one rule per check that ran, one result
// per finding located at its operation in the spec file, with the
// fingerprint as a partial fingerprint so dashboards track findings across
// runs.
type SARIF struct{}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
}

// sarifInvocation carries the scan's coverage: one toolExecutionNotification
// per check (note when it tested something, warning when it was skipped,
// not run or found nothing to test), with the per-operation coverage in its
// properties.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level          string         `json:"level"`
	Message        sarifText      `json:"message"`
	AssociatedRule *sarifRuleRef  `json:"associatedRule,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
}

type sarifRuleRef struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation map[string]string `json:"artifactLocation"`
	Region           map[string]int    `json:"region"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind"`
}

func level(s scan.Severity) string {
	switch {
	case s >= scan.High:
		return "error"
	case s == scan.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity maps to GitHub's security-severity scale (0-10).
func securitySeverity(s scan.Severity) string {
	return map[scan.Severity]string{scan.Critical: "9.5", scan.High: "8.0", scan.Medium: "5.5", scan.Low: "3.0", scan.Info: "0.0"}[s]
}

// Report implements Reporter.
func (SARIF) Report(w io.Writer, r *scan.Result) error {
	drv := sarifDriver{Name: "gatehouse", Version: r.Version, InformationURI: "https://github.com/gatehouse/gatehouse/blob/main/docs/scan.md", Rules: []sarifRule{}}
	index := map[string]int{}
	addRule := func(m scan.Meta) {
		if _, ok := index[m.ID]; ok {
			return
		}
		index[m.ID] = len(drv.Rules)
		help := m.Remediation
		if m.Fix != "" {
			help += "\n\nGatehouse setting that fixes it:\n" + m.Fix
		}
		drv.Rules = append(drv.Rules, sarifRule{
			ID: m.ID, Name: ruleName(m.Title),
			ShortDescription:     sarifText{Text: m.Title},
			FullDescription:      sarifText{Text: nonEmpty(m.Description, m.Title)},
			Help:                 sarifText{Text: nonEmpty(help, m.Title), Markdown: nonEmpty(m.Remediation, m.Title) + "\n\n```yaml\n" + m.Fix + "\n```"},
			DefaultConfiguration: map[string]any{"level": level(m.Severity)},
			Properties: map[string]any{"tags": []string{"security", m.OWASP, m.CWE, m.Category},
				"security-severity": securitySeverity(m.Severity), "precision": "high"},
		})
	}
	for _, c := range r.Checks {
		addRule(c.Meta)
	}
	specURI := filepath.ToSlash(r.Spec)
	if specURI == "" {
		specURI = "openapi.yaml"
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		addRule(scan.Meta{ID: f.CheckID, Title: f.Title, Severity: f.Severity, OWASP: f.OWASP, CWE: f.CWE, Remediation: f.Remediation, Fix: f.Fix})
		msg := f.Detail
		if f.Curl != "" {
			msg += "\nReproduce: " + f.Curl
		}
		line := f.Line
		if line < 1 {
			line = 1
		}
		loc := sarifLocation{PhysicalLocation: &sarifPhysical{
			ArtifactLocation: map[string]string{"uri": specURI},
			Region:           map[string]int{"startLine": line},
		}}
		if f.Operation != "" {
			loc.LogicalLocations = []sarifLogical{{Name: f.Operation, FullyQualifiedName: f.Method + " " + f.Path, Kind: "function"}}
		}
		results = append(results, sarifResult{
			RuleID: f.CheckID, RuleIndex: index[f.CheckID], Level: level(f.Severity),
			Message:             sarifText{Text: msg},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"gatehouseFingerprint/v1": f.Fingerprint},
			Properties:          map[string]any{"severity": f.Severity.String(), "target": r.Target, "finding_id": f.ID},
		})
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, c := range r.Checks {
		if c.Error != "" && c.Status != scan.CoverTested {
			inv.ExecutionSuccessful = false
		}
		if c.Status == "" {
			continue
		}
		lvl := "note"
		if c.Status != scan.CoverTested || c.Reason != "" {
			lvl = "warning"
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: lvl, Message: sarifText{Text: scan.CoverageLine(c)},
			AssociatedRule: &sarifRuleRef{ID: c.Meta.ID, Index: index[c.Meta.ID]},
			Properties:     map[string]any{"status": c.Status, "reason": c.Reason, "coverage": c.Coverage},
		})
	}
	for _, o := range r.Outages {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: "warning", Message: sarifText{Text: fmt.Sprintf("target stopped answering after %s: %s", o.Trigger, o.Error)},
			Properties: map[string]any{"outage": o},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: results}
	if len(inv.ToolExecutionNotifications) > 0 || !inv.ExecutionSuccessful {
		run.Invocations = []sarifInvocation{inv}
	}
	log := sarifLog{
		Schema:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// ruleName turns a title into a PascalCase rule name.
func ruleName(title string) string {
	var sb strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		sb.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return sb.String()
}
