// Package waf is an optional web application firewall stage: Coraza running
// the OWASP Core Rule Set (CRS) unmodified on each request's URI, arguments,
// headers and (bounded) body, with the CRS anomaly-scoring model.
//
// Why Coraza: it is the maintained Go port of ModSecurity and runs the CRS
// rule files as published (coraza-coreruleset embeds them), so the rules,
// their IDs, paranoia levels and exclusion practice are the CRS's own.
// Why off by default: an API gateway that validates against the OpenAPI
// contract already rejects most of what the CRS looks for, and the CRS is
// written for web pages: on API traffic it multiplies the gateway's CPU per
// request 13-20x (GET) to 90-155x (1 KiB JSON body) and flags 4% of real API
// description prose at PL1, a third at PL2 (docs/waf.md has the numbers).
//
// New builds one Coraza WAF (the CRS's 666 rules load in 0.2-0.6 s and hold
// about 20 MiB); build it once and share it. Per-operation rule exclusions are
// applied per transaction (the mechanism behind the CRS's own
// ctl:ruleRemoveById), not by building one WAF per exclusion set, so any
// number of operations with their own exclusions cost no extra rule set.
//
// Only phases 1 and 2 (request) run: response inspection is respfilter's
// job, and Coraza's audit log is off (the gateway's access log carries the
// matched rule IDs). Clients only ever see a generic problem body.
package waf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
)

// Stage is the name this stage records in the gatehouse.Record.
const Stage = "waf"

// Reasons a request is blocked, as recorded in the gatehouse.Record and
// returned in Verdict.Reason (a bounded set: the gateway uses it as a metric
// label).
const (
	ReasonAnomaly      = "anomaly"        // the CRS inbound anomaly score reached the threshold
	ReasonRule         = "rule"           // another disruptive rule (e.g. an extra rules file) denied it
	ReasonBodyTooLarge = "body_too_large" // the body exceeds Options.MaxBody: not inspectable
	ReasonBodyInvalid  = "body_invalid"   // Coraza could not parse the JSON/XML/form body
)

// DefaultMaxBody is the body limit when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// defaultAllowedMethods extends the CRS default (GET HEAD POST OPTIONS):
// APIs use PUT, PATCH and DELETE, and the gateway's router already refuses
// any method the spec does not declare.
var defaultAllowedMethods = []string{"GET", "HEAD", "POST", "OPTIONS", "PUT", "PATCH", "DELETE"}

// Options configures New. The zero value is a PL1 CRS with threshold 5 that
// does not read bodies.
type Options struct {
	// ParanoiaLevel is the CRS blocking paranoia level, 1-4 (0 means 1).
	ParanoiaLevel int
	// AnomalyThreshold is the inbound anomaly score that blocks (0 means 5,
	// the CRS default: one critical rule).
	AnomalyThreshold int
	// InspectBody runs the body rules on JSON, XML and form bodies.
	InspectBody bool
	// MaxBody bounds the body read for inspection (0 means DefaultMaxBody).
	// A larger body is refused (Verdict.Reason ReasonBodyTooLarge): a body
	// the WAF cannot inspect whole must not pass uninspected.
	MaxBody int64
	// ExcludeRules are CRS rule IDs removed for every request (SecRuleRemoveById).
	ExcludeRules []int
	// RuleFiles are extra SecLang files loaded after the CRS.
	RuleFiles []string
	// Directives is extra SecLang text loaded after RuleFiles.
	Directives string
	// AllowedMethods are added to the methods the CRS allows (rule 911100);
	// GET HEAD POST OPTIONS PUT PATCH DELETE are always allowed.
	AllowedMethods []string
	// AllowedContentTypes are request media types (e.g.
	// "application/merge-patch+json") added to the CRS list (rule 920420).
	AllowedContentTypes []string
	// Logger receives Coraza's rule matches at debug level; nil discards.
	Logger *slog.Logger
}

// WAF is a compiled Coraza WAF with the CRS loaded. It is immutable and
// safe for concurrent use; each request gets its own transaction.
type WAF struct {
	waf     coraza.WAF
	maxBody int64
	body    bool
	log     *slog.Logger
	rules   int
}

// ruleRemover is implemented by Coraza's transaction: it is what the
// SecLang action ctl:ruleRemoveById calls. New checks it is there.
type ruleRemover interface{ RemoveRuleByID(id int) }

// ErrUnsupportedCoraza means the linked Coraza version lacks a feature this
// package relies on (per-transaction rule removal).
var ErrUnsupportedCoraza = errors.New("waf: coraza transaction does not support per-request rule removal")

// New loads the CRS with o applied. The first load in a process takes
// about a second of CPU (rule parsing and regex compilation); later loads
// reuse the compiled patterns while an earlier WAF is open. Build once,
// share the *WAF, Close it when done.
func New(o Options) (*WAF, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.ParanoiaLevel == 0 {
		o.ParanoiaLevel = 1
	}
	if o.ParanoiaLevel < 1 || o.ParanoiaLevel > 4 {
		return nil, fmt.Errorf("waf: paranoia level must be 1 to 4, not %d", o.ParanoiaLevel)
	}
	if o.AnomalyThreshold == 0 {
		o.AnomalyThreshold = 5
	}
	if o.AnomalyThreshold < 1 {
		return nil, fmt.Errorf("waf: anomaly threshold must be at least 1, not %d", o.AnomalyThreshold)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	dirs, err := directives(o)
	if err != nil {
		return nil, err
	}
	cfg := coraza.NewWAFConfig().
		WithRootFS(rootFS{}).
		WithDirectives(dirs).
		WithErrorCallback(func(mr types.MatchedRule) {
			if !log.Enabled(context.Background(), slog.LevelDebug) {
				return
			}
			// The matched data is attacker input and may be a credential
			// header: only the rule and the variable name are logged.
			md := mr.MatchedDatas()
			v := ""
			if len(md) > 0 {
				v = md[0].Variable().Name() + ":" + md[0].Key()
			}
			log.Debug("waf rule matched", "rule_id", mr.Rule().ID(), "msg", mr.Message(),
				"variable", v, "tx", mr.TransactionID())
		})
	if o.InspectBody {
		// httpx.Body enforces MaxBody; Coraza rejects a body whose length
		// equals its limit, hence +1. In memory: no temporary files.
		cfg = cfg.WithRequestBodyAccess().
			WithRequestBodyLimit(int(o.MaxBody) + 1).
			WithRequestBodyInMemoryLimit(int(o.MaxBody) + 1)
	}
	cw, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("waf: load rules: %w", err)
	}
	tx := cw.NewTransaction()
	_, ok := tx.(ruleRemover)
	_ = tx.Close()
	if !ok {
		if c, ok := cw.(experimental.WAFCloser); ok {
			_ = c.Close()
		}
		return nil, ErrUnsupportedCoraza
	}
	w := &WAF{waf: cw, maxBody: o.MaxBody, body: o.InspectBody, log: log}
	if rc, ok := cw.(experimental.WAFWithRules); ok {
		w.rules = rc.RulesCount()
	}
	return w, nil
}

// Rules returns the number of rules loaded (0 if Coraza does not say).
func (w *WAF) Rules() int { return w.rules }

// Close releases this WAF's share of Coraza's process-wide cache of
// compiled patterns (kept while another WAF with the same rules lives, so
// a reload that builds the new WAF before closing the old one recompiles
// nothing). Requests in flight are unaffected. It is idempotent.
func (w *WAF) Close() error {
	if c, ok := w.waf.(experimental.WAFCloser); ok {
		return c.Close()
	}
	return nil
}

// directives assembles the SecLang configuration: engine and body settings,
// the body processors Coraza's recommended config selects by content type,
// the CRS setup with our tx variables, the CRS, exclusions, extra rules.
func directives(o Options) (string, error) {
	var b strings.Builder
	w := func(s string, a ...any) { fmt.Fprintf(&b, s+"\n", a...) }
	w("SecRuleEngine On")
	if o.InspectBody {
		w("SecRequestBodyAccess On")
		w("SecRequestBodyLimitAction Reject")
		w("SecRequestBodyJsonDepthLimit 1024")
	} else {
		w("SecRequestBodyAccess Off")
	}
	w("SecResponseBodyAccess Off")
	w("SecAuditEngine Off")
	// Body processors, as in Coraza's coraza.conf-recommended (same IDs).
	w(`SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"`)
	w(`SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	w(`SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	// A body Coraza cannot parse would hide its arguments from every rule: deny.
	w(`SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',severity:2"`)
	w(`SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation.'"`)
	w("Include @crs-setup.conf.example")
	// The CRS's own tuning knobs (crs-setup.conf rules 900000, 900110, 900200,
	// 900220, 900010), set the way crs-setup.conf documents.
	w(`SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`, o.ParanoiaLevel)
	w(`SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4"`, o.AnomalyThreshold)
	methods, err := tokens(append(append([]string(nil), defaultAllowedMethods...), o.AllowedMethods...), "method", strings.ToUpper)
	if err != nil {
		return "", err
	}
	w(`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=%s'"`, strings.Join(methods, " "))
	cts := []string{"application/x-www-form-urlencoded", "multipart/form-data", "multipart/related",
		"text/xml", "application/xml", "application/soap+xml", "application/json"}
	extra, err := tokens(o.AllowedContentTypes, "content type", strings.ToLower)
	if err != nil {
		return "", err
	}
	cts = append(cts, extra...)
	for i, ct := range cts {
		cts[i] = "|" + ct + "|"
	}
	w(`SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=%s'"`, strings.Join(dedup(cts), " "))
	// Parse bodies with no recognised content type as urlencoded, so a
	// text/plain body cannot carry arguments past the argument rules.
	if o.InspectBody {
		w(`SecAction "id:900010,phase:1,pass,t:none,nolog,setvar:tx.enforce_bodyproc_urlencoded=1"`)
	}
	w("Include @owasp_crs/*.conf")
	for _, id := range o.ExcludeRules {
		if id < 1 {
			return "", fmt.Errorf("waf: rule id must be positive, not %d", id)
		}
		w("SecRuleRemoveById %d", id)
	}
	for _, f := range o.RuleFiles {
		f, err := absPath(f)
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(f, "\"\n\r") {
			return "", fmt.Errorf("waf: rules file %q: unsupported characters in path", f)
		}
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Errorf("waf: rules file: %w", err)
		}
		w("Include %s", f)
	}
	if o.Directives != "" {
		w("%s", o.Directives)
	}
	return b.String(), nil
}

// tokens normalizes and checks values spliced into a setvar: they must not
// be able to end the quoted string or add actions.
func tokens(in []string, what string, norm func(string) string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = norm(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/+.-_", c)) {
				return nil, fmt.Errorf("waf: %s %q: unsupported character %q", what, s, c)
			}
		}
		out = append(out, s)
	}
	return dedup(out), nil
}

func dedup(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func absPath(f string) (string, error) {
	abs, err := filepath.Abs(f)
	if err != nil {
		return "", fmt.Errorf("waf: rules file %q: %w", f, err)
	}
	return abs, nil
}

// rootFS serves the embedded CRS ("@crs-setup.conf.example",
// "@owasp_crs/...", also when an included path was joined to a directory)
// and everything else from the operating system (extra rule files).
type rootFS struct{}

func crsName(name string) (string, bool) {
	if strings.HasPrefix(name, "@") {
		return name, true
	}
	if i := strings.Index(name, "/@"); i >= 0 {
		return name[i+1:], true
	}
	return "", false
}

func (rootFS) Open(name string) (fs.File, error) {
	if n, ok := crsName(name); ok {
		return coreruleset.FS.Open(n)
	}
	return os.Open(name)
}

func (rootFS) ReadFile(name string) ([]byte, error) {
	if n, ok := crsName(name); ok {
		return fs.ReadFile(coreruleset.FS, n)
	}
	return os.ReadFile(name)
}

func (rootFS) Glob(pattern string) ([]string, error) {
	if n, ok := crsName(pattern); ok {
		return fs.Glob(coreruleset.FS, n)
	}
	return filepath.Glob(pattern)
}

// Match is one rule that matched a request, for the log.
type Match struct {
	ID      int
	Message string
}

// Verdict is the outcome of Check.
type Verdict struct {
	// Blocked is true when a disruptive rule (or the body limit) stopped the request.
	Blocked bool
	// Status is the HTTP status to answer a blocked request with (403, or
	// 400/413 for an unparsable or oversize body).
	Status int
	// Reason is one of the Reason* constants when Blocked.
	Reason string
	// RuleID is the rule that interrupted (949110: inbound anomaly score).
	RuleID int
	// Matched lists the rules that matched with a message, in order (log only:
	// messages may describe the attack but never carry request data).
	Matched []Match
}

// RuleIDs returns the matched rule IDs as "942100 942190".
func (v *Verdict) RuleIDs() string {
	ids := make([]string, len(v.Matched))
	for i, m := range v.Matched {
		ids[i] = strconv.Itoa(m.ID)
	}
	return strings.Join(ids, " ")
}

// Check runs the request phases of the CRS on r: connection (client is the
// resolved client address, never a header), URI and arguments, headers and,
// with InspectBody, the body read through httpx.Body (bounded by MaxBody,
// read once per request and restored for later stages). exclude removes
// rules for this request only. An error means the request could not be
// inspected (the body could not be read); callers should fail closed.
func (w *WAF) Check(r *http.Request, client netip.Addr, exclude []int) (Verdict, error) {
	var tx types.Transaction
	if wo, ok := w.waf.(experimental.WAFWithOptions); ok {
		tx = wo.NewTransactionWithOptions(experimental.Options{Context: r.Context()})
	} else {
		tx = w.waf.NewTransaction()
	}
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	if len(exclude) > 0 {
		rm := tx.(ruleRemover) // checked in New
		for _, id := range exclude {
			rm.RemoveRuleByID(id)
		}
	}
	v, err := w.process(tx, r, client)
	if v.Blocked || err != nil {
		v.Matched = matched(tx)
	}
	return v, err
}

func (w *WAF) process(tx types.Transaction, r *http.Request, client netip.Addr) (Verdict, error) {
	cip := ""
	if client.IsValid() {
		cip = client.Unmap().String()
	}
	tx.ProcessConnection(cip, 0, "", 0)
	uri := r.RequestURI
	if uri == "" || r.URL.IsAbs() && !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	// The CRS reads query and body arguments (ARGS) but a path segment only
	// as part of REQUEST_FILENAME, which few rules inspect: the route's
	// decoded path parameters go in as ARGS_PATH, so every ARGS rule sees
	// an injection in /items/{name} as it sees one in ?name=.
	if rt := gatehouse.RouteFrom(r.Context()); rt != nil {
		for k, v := range rt.Params {
			tx.AddPathRequestArgument(k, v)
		}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	if r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	}
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
	// Go moves a request's length out of the header map in some paths
	// (e.g. requests built in process); rule 920180 needs it.
	if r.ContentLength > 0 && len(r.TransferEncoding) == 0 && r.Header.Get("Content-Length") == "" {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return verdict(it), nil
	}
	if w.body && tx.IsRequestBodyAccessible() && r.Body != nil && r.Body != http.NoBody {
		b, err := httpx.Body(r, w.maxBody)
		if errors.Is(err, httpx.ErrBodyTooLarge) {
			return Verdict{Blocked: true, Status: http.StatusRequestEntityTooLarge, Reason: ReasonBodyTooLarge}, nil
		}
		if err != nil {
			return Verdict{}, fmt.Errorf("waf: %w", err)
		}
		if len(b) > 0 {
			it, _, err := tx.WriteRequestBody(b)
			if err != nil {
				return Verdict{}, fmt.Errorf("waf: buffer body: %w", err)
			}
			if it != nil {
				return verdict(it), nil
			}
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return Verdict{}, fmt.Errorf("waf: process body: %w", err)
	}
	if it != nil {
		return verdict(it), nil
	}
	return Verdict{}, nil
}

func verdict(it *types.Interruption) Verdict {
	v := Verdict{Blocked: true, Status: http.StatusForbidden, Reason: ReasonRule, RuleID: it.RuleID}
	switch {
	case it.RuleID == 949110 || it.RuleID == 949111:
		v.Reason = ReasonAnomaly
	case it.RuleID == 200002 || it.RuleID == 200003:
		v.Reason, v.Status = ReasonBodyInvalid, http.StatusBadRequest
	case it.Status == http.StatusRequestEntityTooLarge:
		v.Reason, v.Status = ReasonBodyTooLarge, http.StatusRequestEntityTooLarge
	}
	return v
}

// matched returns the rules that matched with a message, without request data.
func matched(tx types.Transaction) []Match {
	var out []Match
	for _, mr := range tx.MatchedRules() {
		id := mr.Rule().ID()
		if mr.Message() == "" || id >= 900000 && id <= 901999 { // CRS setup/initialization
			continue
		}
		out = append(out, Match{ID: id, Message: mr.Message()})
	}
	return out
}
