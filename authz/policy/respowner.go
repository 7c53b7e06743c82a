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
	"github.com/gatehouse/gatehouse/httpx"
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

// respWriter runs one response of an operation with an owner_response rule
// through the shared bounded buffering writer (httpx.BufferWriter) and
// decides in finish. Not safe for concurrent use (neither is
// http.ResponseWriter).
type respWriter struct {
	bw    *httpx.BufferWriter
	rw    http.ResponseWriter
	r     *http.Request
	p     *Policy
	rc    *respOwnerCheck
	claim any
	mode  gatehouse.Mode
	saved http.Header // headers set by outer stages before the upstream's
	why   string      // reason when the writer discards
	deny  int         // status when the writer discards
}

// decide picks what happens to the body for the final status: a non-2xx
// passes untouched; a 2xx JSON response is buffered; HEAD, non-JSON or
// encoded responses cannot be verified and are denied (passed and recorded
// in monitor mode).
func (w *respWriter) decide(code int) httpx.BufferState {
	if code < 200 || code > 299 {
		return httpx.BufferPassing
	}
	h := w.rw.Header()
	switch {
	case w.r.Method == http.MethodHead:
		w.why, w.deny = "HEAD response has no body to verify", w.rc.status
	case !isJSONType(h.Get("Content-Type")):
		w.why, w.deny = "response is not JSON", w.rc.status
	case h.Get("Content-Encoding") != "" && !strings.EqualFold(h.Get("Content-Encoding"), "identity"):
		w.why, w.deny = "response is encoded ("+quote(h.Get("Content-Encoding"))+"); cannot verify", http.StatusBadGateway
	default:
		return httpx.BufferBuffering // a Content-Length over the bound goes to oversize
	}
	if w.mode == gatehouse.Monitor {
		w.record(w.why, w.deny)
		return httpx.BufferPassing // pass untouched, recorded
	}
	return httpx.BufferDiscarding
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
func (w *respWriter) oversize(n int64) httpx.BufferState {
	why := fmt.Sprintf("response of at least %d bytes exceeds %d; cannot verify", n, w.p.maxRespBody)
	if w.mode == gatehouse.Monitor {
		w.record(why, http.StatusBadGateway)
		return httpx.BufferPassing
	}
	w.why, w.deny = why, http.StatusBadGateway
	return httpx.BufferDiscarding
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
		slog.String("rule", w.rc.key), slog.String("reason", why), slog.Int("upstream_status", w.status()),
		slog.Int("status", status), slog.String("mode", w.mode.String()), slog.Bool("blocked", block))
	return block
}

// status is the upstream's status (200 when the handler wrote nothing).
func (w *respWriter) status() int {
	if s := w.bw.Status(); s != 0 {
		return s
	}
	return http.StatusOK
}

// finish decides a buffered response and writes the answer.
func (w *respWriter) finish() {
	switch w.bw.State() {
	case httpx.BufferUndecided:
		// The handler wrote nothing: an empty 200 has no owner to verify.
	case httpx.BufferPassing:
		return
	case httpx.BufferDiscarding:
		if w.record(w.why, w.deny) {
			w.denyWith(w.deny)
		}
		return
	}
	res := w.rc.check(w.bw.Body(), w.claim)
	if res.reason != "" {
		if !w.record(res.reason, w.rc.status) {
			w.bw.Send(0, w.bw.Body())
			return
		}
		w.denyWith(w.rc.status)
		return
	}
	if res.removed > 0 {
		if w.mode == gatehouse.Monitor {
			gatehouse.RecordFrom(w.r.Context()).Monitor("authz", fmt.Sprintf("%s: would remove %d non-owned elements", w.rc.key, res.removed))
			w.p.count(w.rc.key, "monitor")
			w.bw.Send(0, w.bw.Body())
			return
		}
		gatehouse.RecordFrom(w.r.Context()).Set("authz_filtered", strconv.Itoa(res.removed))
		w.p.count(w.rc.key, "filtered")
		h := w.rw.Header()
		for _, k := range []string{"Etag", "Content-Md5", "Digest", "Repr-Digest", "Content-Digest", "Last-Modified"} {
			h.Del(k)
		}
	}
	w.bw.Send(0, res.body)
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
	rw.bw = httpx.NewBufferWriter(w, p.maxRespBody, rw.decide, rw.oversize)
	return rw.bw, r, rw.finish
}
