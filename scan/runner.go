package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/openapi"
)

// ErrTargetDown: the target did not answer at all.
var ErrTargetDown = errors.New("target is not reachable")

// ErrSkipped matches (errors.Is) the errors made by Skip.
var ErrSkipped = errors.New("check skipped")

type skipError struct{ reason string }

func (e *skipError) Error() string        { return "check skipped: " + e.reason }
func (e *skipError) Is(target error) bool { return target == ErrSkipped }

// Skip returns the error a check's Run returns when it cannot run
// meaningfully under the scan's limits (the --rate or --budget would make
// its verdict a guess): the Runner records reason in CheckRun.Skipped,
// not as a failure, and the check reports nothing.
func Skip(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

// Options configure a Runner.
type Options struct {
	// Checks to run (see scan/checks.All).
	Checks []Check
	// Suppress holds fingerprints to drop (the --baseline file).
	Suppress map[string]bool
	// Safe skips intrusive checks (the Client's safe mode blocks methods).
	Safe bool
	// Parallel is how many PhaseParallel checks run at once (0 = 2); checks
	// of later phases run alone (see Order).
	Parallel int
	// Progress receives progress lines (nil = none); TTY redraws one line.
	Progress io.Writer
	TTY      bool
	// Version is recorded in the Result.
	Version string
	Log     *slog.Logger
	// Exclude lists operations never to call (operationIds or
	// "METHOD /path"), beside those marked x-gatehouse-scan: skip.
	Exclude []string
	// WaitForTarget bounds how long the scan waits, probing with backoff,
	// for a target that stopped answering to come back (0 = 30s; negative
	// = do not wait: what remains is "not run: target down").
	WaitForTarget time.Duration
}

// DefaultWaitForTarget is the wait when Options.WaitForTarget is 0.
const DefaultWaitForTarget = 30 * time.Second

// Run scans t: it logs the identities in, crawls every operation as every
// identity (creates first, reads next; safe methods and POST only), runs
// the checks and returns the Result. It fails only when the scan cannot run
// (target down, an identity cannot log in, ctx cancelled).
func Run(ctx context.Context, t *Target, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	pr := &progress{w: o.Progress, tty: o.TTY}
	res := &Result{Tool: "gatehouse", Version: o.Version, Target: t.Base.String(), Started: time.Now().UTC()}
	if t.Spec != nil {
		res.Spec = t.Spec.Path
	}
	if _, err := t.Do(ctx, http.MethodGet, "/", nil, nil); err != nil && !errors.Is(err, ErrBudget) {
		return nil, fmt.Errorf("%w: %s: %v", ErrTargetDown, t.Base, errors.Unwrap(err))
	}
	g, err := newGuard(t, o.Safe, o.Exclude)
	if err != nil {
		return nil, err
	}
	wait := o.WaitForTarget
	if wait == 0 {
		wait = DefaultWaitForTarget
	}
	hctx, stopHealth := context.WithCancel(ctx) // recovery probes end with the scan
	defer stopHealth()
	h := &health{probe: newProbe(t.Client.opts.Transport, t.Base.String()), wait: max(wait, 0), sleep: sleepCtx, ctx: hctx}
	t.Client.ext.install(g, h)
	defer t.Client.ext.install(nil, nil)
	for _, id := range t.Identities {
		res.Identities = append(res.Identities, id.Name)
		if id.CanLogin() {
			pr.line("login as %s", id.Name)
			if err := t.Login(ctx, id); err != nil {
				return nil, err
			}
		} else if j, ok := ParseJWT(id.Token()); ok {
			if sub, ok := j.Claims["sub"].(string); ok {
				t.Store.Add(id.Name, "user", sub, true)
			}
		}
	}
	crawl(ctx, t, g, pr)

	var opIDs []string
	if t.Spec != nil {
		for _, op := range t.Spec.Operations {
			opIDs = append(opIDs, op.ID)
		}
	}
	var (
		mu       sync.Mutex
		findings []Finding
		runs     = make([]CheckRun, len(o.Checks))
	)
	runOne := func(i int, c Check) {
		m := c.Meta()
		run := CheckRun{Meta: m}
		if o.Safe && m.Intrusive {
			run.Skipped = "intrusive check skipped in safe mode"
			run.Status, run.Reason = "skipped", run.Skipped
			for _, id := range opIDs {
				run.Coverage = append(run.Coverage, OpCoverage{Operation: id, Status: CoverSkipped, Reason: run.Skipped})
			}
			runs[i] = run
			return
		}
		start := time.Now()
		pr.line("check %s %s", m.ID, m.Title)
		n := 0
		err := c.Run(WithCheck(ctx, m.ID), t, func(f Finding) {
			f = complete(f, m)
			if f.Pointer != "" && t.Spec != nil {
				_, f.Line, _ = t.Spec.Position(f.Pointer)
			}
			mu.Lock()
			findings = append(findings, f)
			mu.Unlock()
			n++
		})
		run.Duration = time.Since(start)
		run.Operations, run.Requests = t.Client.Coverage(m.ID)
		var skip *skipError
		switch {
		case errors.As(err, &skip):
			run.Skipped = skip.reason
		case err != nil:
			run.Error = err.Error()
			o.Log.Warn("check did not finish", "check", m.ID, "error", err)
		}
		run.Coverage = t.Client.opCoverage(m.ID, opIDs)
		if m.Passive {
			judged := map[string]bool{}
			for _, ex := range t.Baselines() {
				judged[ex.Request.Op] = true
			}
			for j, oc := range run.Coverage {
				if judged[oc.Operation] && oc.Status == CoverNotApplicable {
					run.Coverage[j].Status, run.Coverage[j].Reason = CoverTested, "judged the crawl's answer"
				}
			}
		}
		run.Status, run.Reason = checkStatus(&run, n, err)
		runs[i] = run
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Parallel)
	for _, i := range Order(o.Checks) {
		if o.Checks[i].Meta().Phase != PhaseParallel {
			wg.Wait() // later phases start once everything before them is done
			runOne(i, o.Checks[i])
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runOne(i, o.Checks[i])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pr.line("cleanup: deleting what the scan created")
	res.Cleanup = t.cleanup(ctx)

	outages, probes := h.snapshot()
	res.HealthProbes = probes
	for _, out := range outages {
		findings = append(findings, outageFinding(t, out))
		res.Outages = append(res.Outages, outageReport(t, out))
	}
	res.Guarded = g.report()
	seen := map[string]bool{}
	for _, f := range findings {
		if seen[f.Fingerprint] {
			continue
		}
		seen[f.Fingerprint] = true
		if o.Suppress[f.Fingerprint] {
			res.Suppressed++
			continue
		}
		res.Findings = append(res.Findings, f)
	}
	SortFindings(res.Findings)
	for i := range runs {
		for _, f := range res.Findings {
			if f.CheckID == runs[i].Meta.ID {
				runs[i].Findings++
			}
		}
	}
	res.Checks = runs
	res.Requests = t.Client.Used()
	res.ThrottleWaited = t.Client.ThrottleWaited()
	res.Finished = time.Now().UTC()
	pr.done("scan finished: %d requests, %d findings (%d suppressed) in %s",
		res.Requests, len(res.Findings), res.Suppressed, res.Finished.Sub(res.Started).Round(time.Millisecond))
	return res, nil
}

// Order returns the indexes of cs in the order Run starts them: by phase
// (PhaseParallel first, PhaseBurst last), then by ID within a phase.
// Checks of PhaseParallel run concurrently; each later one runs alone.
func Order(cs []Check) []int {
	idx := make([]int, len(cs))
	metas := make([]Meta, len(cs))
	for i, c := range cs {
		idx[i], metas[i] = i, c.Meta()
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ma, mb := metas[idx[a]], metas[idx[b]]
		if ma.Phase != mb.Phase {
			return ma.Phase < mb.Phase
		}
		return ma.ID < mb.ID
	})
	return idx
}

// SortFindings orders findings by severity (highest first), check, path,
// method and parameter.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.CheckID != b.CheckID {
			return a.CheckID < b.CheckID
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		if a.Param != b.Param {
			return a.Param < b.Param
		}
		return a.Key < b.Key
	})
}

// complete fills the finding's defaults from the check's Meta and computes
// its fingerprint and ID.
func complete(f Finding, m Meta) Finding {
	f.CheckID = m.ID
	if f.Title == "" {
		f.Title = m.Title
	}
	if f.Severity == SeverityUnset {
		f.Severity = m.Severity
	}
	f.OWASP, f.CWE = m.OWASP, m.CWE
	if f.Remediation == "" {
		f.Remediation = m.Remediation
	}
	if f.Fix == "" {
		f.Fix = m.Fix
	}
	f.Fingerprint = f.ComputeFingerprint()
	f.ID = m.ID + "-" + f.Fingerprint[:10]
	return f
}

// At fills the operation fields of f from op.
func (f Finding) At(op *openapi.Operation) Finding {
	if op != nil {
		f.Operation, f.Method, f.Path, f.Pointer = op.ID, op.Method, op.Template, op.Pointer
	}
	return f
}

// With attaches the redacted evidence of ex (and its curl command if none yet).
func (f Finding) With(ex *Exchange, note string) Finding {
	if ex == nil {
		return f
	}
	f.Evidence = append(f.Evidence, ex.Evidence(note))
	if f.Curl == "" {
		f.Curl = ex.Request.Curl()
	}
	return f
}

// crawlOrder sorts operations so that creates run before reads.
func crawlOrder(op *openapi.Operation) int {
	hasParam := strings.Contains(op.Template, "{")
	switch op.Method {
	case http.MethodPost:
		if !hasParam {
			return 0
		}
		return 3
	case http.MethodGet:
		if !hasParam {
			return 1
		}
		return 2
	}
	return 4
}

// CrawlOps returns the operations the crawl visits, in order: no login or
// logout, no PUT/PATCH/DELETE (those run only in checks that need them).
func CrawlOps(spec *openapi.Spec) []*openapi.Operation {
	var ops []*openapi.Operation
	for _, op := range spec.Operations {
		if IsLogin(op) || IsLogout(op) {
			continue
		}
		switch op.Method {
		case http.MethodGet, http.MethodPost, http.MethodHead:
			ops = append(ops, op)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return crawlOrder(ops[i]) < crawlOrder(ops[j]) })
	return ops
}

func crawl(ctx context.Context, t *Target, g *guard, pr *progress) {
	var ops []*openapi.Operation
	for _, op := range CrawlOps(t.Spec) {
		if p, _ := g.Policy(op.ID); p == OpNormal {
			ops = append(ops, op) // destructive and excluded operations are never crawled
		}
	}
	for i, op := range ops {
		pr.line("crawl %d/%d %s %s", i+1, len(ops), op.Method, op.Template)
		for _, id := range t.Identities {
			if _, err := t.Baseline(WithCheck(ctx, "crawl"), op, id); err != nil {
				t.Log.Debug("crawl request failed", "operation", op.ID, "identity", id.Name, "error", err)
			}
		}
	}
}

type progress struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func (p *progress) line(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		return
	}
	fmt.Fprintln(p.w, "gatehouse scan: "+msg)
}

func (p *progress) done(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "gatehouse scan: "+format+"\n", args...)
}
