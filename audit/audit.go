// Package audit is gatehouse's static reviewer of an API contract: rules over
// the OpenAPI document (3.0, 3.1, or Swagger 2.0 converted on load by
// openapi's spec model) that catch security blunders before anything
// runs, each reported with a stable ID (GH1xxx), a severity, its OWASP API
// Security Top 10 (2023) category, the JSON pointer of the offending node and
// its line and column in the source file, and a score out of 100.
//
// Rules come in families: security (schemes, requirements, OAuth flows,
// servers), data (unbounded inputs, open objects, readOnly and sensitive
// properties, missing response schemas), errors and limits (undeclared
// 400/401/403/429, Retry-After, sequential ids), inventory (non-production
// servers, undocumented versions, URL-like parameters) and, when a gateway
// config is given (Options.Gateway), coverage: what the config leaves open.
//
// A finding is accepted in the spec itself with the extension
// "x-gatehouse-ignore: [GH1101, ...]" on the object it points at or on any
// ancestor (the document root ignores a rule everywhere).
//
// Run never panics on a hostile document: a panic inside the model (lazy
// schema building in libopenapi) is recovered and returned as an error.
// Results are deterministic: findings are sorted by severity, rule ID and
// pointer. Run is safe for concurrent use on the same *openapi.Spec.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// OWASP API Security Top 10 (2023) categories used by the rules, in the
// same spelling as package scan.
const (
	API1BOLA      = scan.API1BOLA
	API2Authn     = scan.API2Authn
	API3Property  = scan.API3Property
	API4Resource  = scan.API4Resource
	API5BFLA      = scan.API5BFLA
	API7SSRF      = "API7:2023 Server Side Request Forgery"
	API8Misconfig = scan.API8Misconfig
	API9Inventory = "API9:2023 Improper Inventory Management"
)

// Families of rules.
const (
	FamilySecurity  = "security"
	FamilyData      = "data"
	FamilyErrors    = "errors"
	FamilyInventory = "inventory"
	FamilyCoverage  = "coverage"
)

// Rule describes one audit rule. It is static: the same for every run.
type Rule struct {
	// ID is stable across releases: GH1xxx.
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Family   string        `json:"family"`
	Severity scan.Severity `json:"severity"`
	OWASP    string        `json:"owasp"`
	CWE      string        `json:"cwe"`
	// Description says what the rule looks for; Remediation how to fix the
	// spec; Fix the gatehouse setting that covers it at the gateway.
	Description string `json:"description"`
	Remediation string `json:"remediation"`
	Fix         string `json:"fix,omitempty"`
}

// Finding is one rule hit at one place of the document.
type Finding struct {
	// ID is "<rule id>-<first 10 hex of the fingerprint>".
	ID       string        `json:"id"`
	RuleID   string        `json:"rule_id"`
	Title    string        `json:"title"`
	Family   string        `json:"family"`
	Severity scan.Severity `json:"severity"`
	OWASP    string        `json:"owasp"`
	CWE      string        `json:"cwe"`
	// Pointer is the JSON pointer (RFC 6901) of the offending node in the
	// document ("" for the document itself); File, Line and Column its
	// position in the source (Line 0 when unknown).
	Pointer string `json:"pointer"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	// Operation, Method and Path name the operation the finding belongs to
	// (empty for document-wide findings).
	Operation   string `json:"operation,omitempty"`
	Method      string `json:"method,omitempty"`
	Path        string `json:"path,omitempty"`
	Detail      string `json:"detail"`
	Remediation string `json:"remediation"`
	Fix         string `json:"fix,omitempty"`
	// Fingerprint is a hash of rule ID, pointer and key: stable across
	// runs and unaffected by line moves.
	Fingerprint string `json:"fingerprint"`

	key string
}

// Result is the outcome of one audit.
type Result struct {
	Tool        string `json:"tool"`
	Version     string `json:"version"`
	Spec        string `json:"spec"`
	SpecVersion string `json:"spec_version"`
	// Config is the gateway config the coverage rules read ("" when none).
	Config     string `json:"config,omitempty"`
	Operations int    `json:"operations"`
	// Rules lists every rule that ran, in ID order.
	Rules    []Rule    `json:"rules"`
	Findings []Finding `json:"findings"`
	// Ignored counts findings accepted with x-gatehouse-ignore.
	Ignored int `json:"ignored"`
	// Score is 100 minus the weighted findings (see Score), at least 0.
	Score int `json:"score"`
}

// Count returns how many findings are at or above min.
func (r *Result) Count(min scan.Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= min {
			n++
		}
	}
	return n
}

// Options configures Run.
type Options struct {
	// Gateway, when non-nil, enables the coverage rules and lets the
	// sequential-id rule look for ownership rules.
	Gateway *Gateway
	// Version is copied into Result.Version.
	Version string
	// MaxFindingsPerRule caps the findings kept per rule (0: 1000); the
	// score counts every finding.
	MaxFindingsPerRule int
}

// ErrPanic wraps a panic recovered while auditing a hostile document.
var ErrPanic = errors.New("audit: panic while reading the document")

// Run audits spec. ctx is checked between rules; a cancelled context
// returns ctx.Err().
func Run(ctx context.Context, spec *openapi.Spec, opts Options) (res *Result, err error) {
	if spec == nil || openapi.Model(spec) == nil {
		return nil, errors.New("audit: no spec")
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	c := newCtx(spec, opts)
	for _, r := range sorted() {
		if r.Family == FamilyCoverage && opts.Gateway == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.rule = r
		r.run(c)
		res0 := r.Rule
		c.ran = append(c.ran, res0)
	}
	return c.result(), nil
}

// Rules returns every rule, in ID order.
func Rules() []Rule {
	defs := sorted()
	out := make([]Rule, len(defs))
	for i, r := range defs {
		out[i] = r.Rule
	}
	return out
}

type ruleDef struct {
	Rule
	run func(c *auditCtx)
}

// registry lists the rules as the rule files' init functions register
// them; sorted() gives them in ID order.
var (
	registry   []*ruleDef
	sortOnce   sync.Once
	sortedDefs []*ruleDef
)

func register(r *ruleDef) { registry = append(registry, r) }

// sorted returns the registered rules in ID order (computed once, after
// every file's init has run).
func sorted() []*ruleDef {
	sortOnce.Do(func() {
		sortedDefs = append([]*ruleDef(nil), registry...)
		sort.Slice(sortedDefs, func(i, j int) bool { return sortedDefs[i].ID < sortedDefs[j].ID })
		for i := 1; i < len(sortedDefs); i++ {
			if sortedDefs[i].ID == sortedDefs[i-1].ID {
				panic("audit: duplicate rule " + sortedDefs[i].ID)
			}
		}
	})
	return sortedDefs
}

// auditCtx is the state of one run.
type auditCtx struct {
	spec    *openapi.Spec
	opts    Options
	gw      *Gateway
	rule    *ruleDef
	ran     []Rule
	found   map[string]*Finding // by rule+pointer+key
	order   []string
	ignores *ignoreSet
	perRule map[string]int
	total   map[string]int // findings per rule, uncapped
	ignored int
	schemas *schemaIndex
}

func newCtx(spec *openapi.Spec, opts Options) *auditCtx {
	if opts.MaxFindingsPerRule <= 0 {
		opts.MaxFindingsPerRule = 1000
	}
	c := &auditCtx{spec: spec, opts: opts, gw: opts.Gateway, found: map[string]*Finding{},
		perRule: map[string]int{}, total: map[string]int{}}
	c.ignores = collectIgnores(spec)
	c.schemas = buildSchemaIndex(c)
	return c
}

// report records a finding of the current rule at pointer. op may be nil.
// key distinguishes several findings of one rule at one pointer.
func (c *auditCtx) report(pointer string, op *openapi.Operation, key, detail string) {
	r := c.rule
	k := r.ID + "\x00" + pointer + "\x00" + key
	if _, dup := c.found[k]; dup {
		return
	}
	if c.ignores.ignored(r.ID, pointer) || (op != nil && c.ignores.ignored(r.ID, op.Pointer)) {
		c.found[k] = nil
		c.ignored++
		return
	}
	c.total[r.ID]++
	if c.perRule[r.ID] >= c.opts.MaxFindingsPerRule {
		c.found[k] = nil
		return
	}
	c.perRule[r.ID]++
	f := &Finding{RuleID: r.ID, Title: r.Title, Family: r.Family, Severity: r.Severity, OWASP: r.OWASP, CWE: r.CWE,
		Pointer: pointer, Detail: detail, Remediation: r.Remediation, Fix: r.Fix, key: key}
	f.File, f.Line, f.Column = c.spec.Position(pointer)
	if op != nil {
		f.Operation, f.Method, f.Path = op.ID, op.Method, op.Template
	}
	h := sha256.Sum256([]byte(strings.Join([]string{r.ID, pointer, key}, "\x00")))
	f.Fingerprint = hex.EncodeToString(h[:16])
	f.ID = r.ID + "-" + f.Fingerprint[:10]
	c.found[k] = f
	c.order = append(c.order, k)
}

func (c *auditCtx) result() *Result {
	res := &Result{Tool: "gatehouse", Version: c.opts.Version, Spec: c.spec.Path, SpecVersion: c.spec.Version,
		Operations: len(c.spec.Operations), Rules: c.ran, Findings: []Finding{}, Ignored: c.ignored}
	if c.gw != nil {
		res.Config = c.gw.File
	}
	for _, k := range c.order {
		if f := c.found[k]; f != nil {
			res.Findings = append(res.Findings, *f)
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Pointer != b.Pointer {
			return a.Pointer < b.Pointer
		}
		return a.key < b.key
	})
	sev := map[string]scan.Severity{}
	for _, r := range c.ran {
		sev[r.ID] = r.Severity
	}
	res.Score = Score(c.total, sev)
	return res
}
