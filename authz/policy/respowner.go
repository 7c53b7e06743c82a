package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authz/celpolicy"
	"github.com/gatehouse/gatehouse/problem"
)

// OwnerResponse is the response-side ownership rule, for reads whose
// object owner only the upstream knows (GET /notes/{note_id} answering
// {"owner_id": 2, ...}). The 2xx JSON response is buffered (bounded) and the
// value at Field (a JSON pointer, e.g. "/owner_id") must equal, canonically,
// the principal's Claim (scalar or list, as for Owner). A missing field, a
// mismatch, a body that is not strict JSON (duplicate keys included) or not
// JSON at all is answered with DenyStatus (default 404, so existence is not
// revealed) and the body never reaches the client. For an array response
// every element is checked: with Filter the elements not owned are removed,
// otherwise one foreign element denies the whole response. A principal
// holding one of UnlessRoles is not checked (nothing is buffered).
//
// Only GET and HEAD operations may carry it: on other methods the upstream
// has already acted when the response arrives, and hiding its answer would
// not undo the side effect. HEAD responses carry no body to verify and are
// denied.
type OwnerResponse struct {
	// Field is a JSON pointer into the response object (or into each element
	// of an array response). Empty: the operation's OwnerField (the spec
	// extension x-gatehouse-owner-field).
	Field       string
	Claim       string
	UnlessRoles []string
	// DenyStatus answers a failed check: 404 (default) or 403.
	DenyStatus int
	// Filter removes non-owned elements from an array response instead of
	// denying it.
	Filter bool
}

// respOwnerCheck is an OwnerResponse compiled for one operation.
type respOwnerCheck struct {
	key    string
	field  string
	ptr    []string
	claim  string
	unless []string
	status int
	filter bool
	typ    celpolicy.Type
}

func newRespOwnerCheck(key string, o *OwnerResponse, op *Operation) (*respOwnerCheck, error) {
	if op.Method != http.MethodGet && op.Method != http.MethodHead {
		return nil, fmt.Errorf("owner_response is for reads (GET, HEAD); on %s the upstream has already acted when the response is checked", op.Method)
	}
	field := o.Field
	if field == "" {
		field = op.OwnerField
	}
	if field == "" {
		return nil, errors.New("field is required (or x-gatehouse-owner-field on the operation)")
	}
	ptr, err := parsePointer(field)
	if err != nil {
		return nil, err
	}
	rc := &respOwnerCheck{key: key, field: field, ptr: ptr, claim: o.Claim, unless: o.UnlessRoles,
		status: o.DenyStatus, filter: o.Filter, typ: celpolicy.String}
	if rc.status == 0 {
		rc.status = http.StatusNotFound
	}
	if rc.status != http.StatusNotFound && rc.status != http.StatusForbidden {
		return nil, fmt.Errorf("deny_status must be 404 or 403, not %d", rc.status)
	}
	if op.ResponseType != nil {
		rc.typ = op.ResponseType(field)
	}
	return rc, nil
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped tokens.
func parsePointer(s string) ([]string, error) {
	if s == "" || s[0] != '/' {
		return nil, fmt.Errorf("field %q is not a JSON pointer (want e.g. /owner_id)", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		for j := 0; j < len(p); j++ {
			if p[j] == '~' && (j+1 >= len(p) || (p[j+1] != '0' && p[j+1] != '1')) {
				return nil, fmt.Errorf("field %q: '~' must be followed by 0 or 1", s)
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// lookupPointer resolves ptr in v (objects by exact key, arrays by index).
func lookupPointer(v any, ptr []string) (any, bool) {
	for _, tok := range ptr {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := parseCanonicalInt(tok)
			if err != nil || i < 0 || i >= int64(len(x)) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// idMatch compares one id value from the request or a response (its literal
// spelling: JSON numbers as written, strings decoded) with the principal's
// claim, canonically under t. It returns "" on a match, else why not. Shared
// by the request-side owner check and the response-side rule so that both
// accept exactly the same spellings.
func idMatch(claim any, raw string, t celpolicy.Type) string {
	key, err := CanonicalID(raw, t)
	if err != nil {
		return "is not a canonical " + t.String()
	}
	if !claimHas(claim, key, t) {
		return idNoMatch
	}
	return ""
}

// idNoMatch is idMatch's answer for a canonical id that is not the caller's.
const idNoMatch = "does not match"

// ownerOf checks one decoded JSON document (object) against the claim.
func (rc *respOwnerCheck) ownerOf(doc any, claim any) string {
	v, ok := lookupPointer(doc, rc.ptr)
	if !ok {
		return "field " + rc.field + " missing"
	}
	var raw string
	switch x := v.(type) {
	case json.Number:
		raw = x.String()
	case string:
		raw = x
	case nil:
		return "field " + rc.field + " is null"
	default:
		return "field " + rc.field + " is not an id"
	}
	if claim == nil {
		return "principal has no claim " + strconv.Quote(rc.claim)
	}
	if why := idMatch(claim, raw, rc.typ); why != "" {
		return fmt.Sprintf("field %s=%s %s claim %s", rc.field, quote(raw), why, rc.claim)
	}
	return ""
}

// respResult is the outcome of checking one buffered body.
type respResult struct {
	reason  string // "" allowed
	body    []byte // body to send when allowed (filtered or the original)
	removed int    // array elements removed by Filter
}

// check applies the rule to a buffered 2xx body whose media type is JSON.
func (rc *respOwnerCheck) check(body []byte, claim any) respResult {
	doc, err := parseJSON(body)
	if err != nil {
		return respResult{reason: "response " + err.Error()}
	}
	switch x := doc.(type) {
	case map[string]any:
		if why := rc.ownerOf(x, claim); why != "" {
			return respResult{reason: why}
		}
		return respResult{body: body}
	case []any:
		keep := make([]bool, len(x))
		n := 0
		for i, e := range x {
			why := rc.ownerOf(e, claim)
			if why == "" {
				keep[i] = true
				n++
				continue
			}
			if !rc.filter {
				return respResult{reason: fmt.Sprintf("element %d: %s", i, why)}
			}
		}
		if n == len(x) {
			return respResult{body: body}
		}
		// jsonx validated the document strictly, so encoding/json's raw
		// element spans are exactly the elements checked above.
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil || len(raws) != len(x) {
			return respResult{reason: "response array could not be split"}
		}
		var out bytes.Buffer
		out.Grow(len(body))
		out.WriteByte('[')
		first := true
		for i, r := range raws {
			if !keep[i] {
				continue
			}
			if !first {
				out.WriteByte(',')
			}
			first = false
			out.Write(r)
		}
		out.WriteByte(']')
		return respResult{body: out.Bytes(), removed: len(x) - n}
	}
	return respResult{reason: "response is neither an object nor an array"}
}

// respState is the response writer's state.
type respState int

const (
	rsUndecided respState = iota
	rsBuffering
	rsPassing // not a 2xx: passes untouched
	rsOversizePass
	rsDenied // decided at WriteHeader; writes discarded
)

// respWriter buffers the response of an operation with an owner_response
// rule and decides in finish. Not safe for concurrent use (neither is
// http.ResponseWriter).
type respWriter struct {
	rw     http.ResponseWriter
	r      *http.Request
	p      *Policy
	rc     *respOwnerCheck
	claim  any
	mode   gatehouse.Mode
	saved  http.Header // headers set by outer stages before the upstream's
	state  respState
	status int
	buf    bytes.Buffer
	why    string // reason when rsDenied
	deny   int    // status when rsDenied
}

func (w *respWriter) Header() http.Header { return w.rw.Header() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.rw }

// Flush passes through only for responses that are not checked.
func (w *respWriter) Flush() {
	if w.state == rsPassing || w.state == rsOversizePass {
		if fl, ok := w.rw.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

func (w *respWriter) WriteHeader(code int) {
	if w.state != rsUndecided {
		return
	}
	if code >= 100 && code < 200 {
		w.rw.WriteHeader(code)
		return
	}
	w.status = code
	if code < 200 || code > 299 {
		w.state = rsPassing
		w.rw.WriteHeader(code)
		return
	}
	h := w.rw.Header()
	switch {
	case w.r.Method == http.MethodHead:
		w.state, w.why, w.deny = rsDenied, "HEAD response has no body to verify", w.rc.status
	case !isJSONType(h.Get("Content-Type")):
		w.state, w.why, w.deny = rsDenied, "response is not JSON", w.rc.status
	case h.Get("Content-Encoding") != "" && !strings.EqualFold(h.Get("Content-Encoding"), "identity"):
		w.state, w.why, w.deny = rsDenied, "response is encoded ("+quote(h.Get("Content-Encoding"))+"); cannot verify", http.StatusBadGateway
	default:
		w.state = rsBuffering
		if cl := h.Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > w.p.maxRespBody {
				w.oversize(n)
			}
		}
	}
	if w.state == rsDenied && w.mode == gatehouse.Monitor {
		w.record(w.why, w.deny)
		w.state = rsOversizePass // pass untouched, recorded
		w.rw.WriteHeader(code)
	}
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	mt = strings.ToLower(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// oversize handles a body larger than the bound: 502 in enforce mode; in
// monitor mode the buffered part and the rest pass, recorded.
func (w *respWriter) oversize(n int64) {
	why := fmt.Sprintf("response of at least %d bytes exceeds %d; cannot verify", n, w.p.maxRespBody)
	if w.mode == gatehouse.Monitor {
		w.record(why, http.StatusBadGateway)
		w.state = rsOversizePass
		w.rw.WriteHeader(w.status)
		if w.buf.Len() > 0 {
			_, _ = w.rw.Write(w.buf.Bytes())
		}
		w.buf = bytes.Buffer{}
		return
	}
	w.state, w.why, w.deny = rsDenied, why, http.StatusBadGateway
	w.buf = bytes.Buffer{}
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.state == rsUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case rsPassing, rsOversizePass:
		return w.rw.Write(b)
	case rsDenied:
		return len(b), nil
	}
	if int64(w.buf.Len()+len(b)) > w.p.maxRespBody {
		w.oversize(int64(w.buf.Len() + len(b)))
		if w.state == rsOversizePass {
			return w.rw.Write(b)
		}
		return len(b), nil
	}
	return w.buf.Write(b)
}

// record applies the mode to a failed check: audit record, log, metric.
// It returns true when the response must be blocked.
func (w *respWriter) record(why string, status int) bool {
	ctx := w.r.Context()
	reason := w.rc.key + ": response owner mismatch"
	if status == http.StatusBadGateway {
		reason = w.rc.key + ": response cannot be verified" // oversize or encoded
	}
	block := gatehouse.Decide(ctx, w.mode, "authz", reason)
	outcome := "deny"
	if !block {
		outcome = "monitor"
	}
	w.p.count(w.rc.key, outcome)
	w.p.log.LogAttrs(ctx, slog.LevelInfo, "authz denied response",
		slog.String("rule", w.rc.key), slog.String("reason", why), slog.Int("upstream_status", w.status),
		slog.Int("status", status), slog.String("mode", w.mode.String()), slog.Bool("blocked", block))
	return block
}

// finish decides a buffered response and writes the answer.
func (w *respWriter) finish() {
	switch w.state {
	case rsUndecided:
		// The handler wrote nothing: an empty 200 has no owner to verify.
		w.status = http.StatusOK
		w.state = rsBuffering
	case rsPassing, rsOversizePass:
		return
	case rsDenied:
		if w.record(w.why, w.deny) {
			w.denyWith(w.deny)
		}
		return
	}
	res := w.rc.check(w.buf.Bytes(), w.claim)
	if res.reason != "" {
		if !w.record(res.reason, w.rc.status) {
			w.send(w.buf.Bytes())
			return
		}
		w.denyWith(w.rc.status)
		return
	}
	if res.removed > 0 {
		if w.mode == gatehouse.Monitor {
			gatehouse.RecordFrom(w.r.Context()).Monitor("authz", fmt.Sprintf("%s: would remove %d non-owned elements", w.rc.key, res.removed))
			w.p.count(w.rc.key, "monitor")
			w.send(w.buf.Bytes())
			return
		}
		gatehouse.RecordFrom(w.r.Context()).Set("authz_filtered", strconv.Itoa(res.removed))
		w.p.count(w.rc.key, "filtered")
		h := w.rw.Header()
		for _, k := range []string{"Etag", "Content-Md5", "Digest", "Repr-Digest", "Content-Digest", "Last-Modified"} {
			h.Del(k)
		}
	}
	w.send(res.body)
}

func (w *respWriter) send(body []byte) {
	w.rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.rw.WriteHeader(w.status)
	_, _ = w.rw.Write(body)
}

// denyWith drops every header the upstream (or an inner stage) set, restores
// the outer stages' headers and writes the generic problem body.
func (w *respWriter) denyWith(status int) {
	h := w.rw.Header()
	for k := range h {
		delete(h, k)
	}
	for k, v := range w.saved {
		h[k] = v
	}
	problem.Write(w.rw, w.r, status)
}

// conditionalHeaders are removed from requests to operations with an
// owner_response rule: a 304 or a 206 would carry no verifiable owner, and
// If-None-Match: * alone would reveal whether an object exists.
var conditionalHeaders = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range", "Accept-Encoding"}

// wrapResponse returns the writer and request to use for an allowed request
// to an operation with a response-side rule, and a finish func to call after
// the handler; (w, r, nil) when the principal is exempt.
func (p *Policy) wrapResponse(w http.ResponseWriter, r *http.Request, rc *respOwnerCheck, pr *authn.Principal, mode gatehouse.Mode) (http.ResponseWriter, *http.Request, func()) {
	if pr != nil {
		for _, role := range rc.unless {
			if pr.HasRole(role) {
				return w, r, nil
			}
		}
	}
	var claim any
	if pr != nil {
		if c, ok := claimValue(pr, rc.claim); ok {
			claim = c
		}
	}
	strip := false
	for _, k := range conditionalHeaders {
		if _, ok := r.Header[k]; ok {
			strip = true
			break
		}
	}
	if strip {
		r = r.Clone(r.Context())
		for _, k := range conditionalHeaders {
			r.Header.Del(k)
		}
	}
	rw := &respWriter{rw: w, r: r, p: p, rc: rc, claim: claim, mode: mode, saved: w.Header().Clone()}
	return rw, r, rw.finish
}
