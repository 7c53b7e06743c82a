package dynamic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// ops returns the operations of t's spec that satisfy keep, in spec order.
func ops(t *scan.Target, keep func(*openapi.Operation) bool) []*openapi.Operation {
	var out []*openapi.Operation
	for _, op := range t.Spec.Operations {
		if keep(op) {
			out = append(out, op)
		}
	}
	return out
}

// authedIdentity returns the first identity to use for op: a non-privileged
// one when op needs authentication, nil (anonymous) otherwise.
func actor(t *scan.Target, op *openapi.Operation) *scan.Identity {
	if !t.RequiresAuth(op) {
		return nil
	}
	if u := t.Users(); len(u) > 0 {
		return u[0]
	}
	if len(t.Identities) > 0 {
		return t.Identities[0]
	}
	return nil
}

// deniedRe matches the refusals APIs put in a 2xx body: the status words,
// and the messages of the common auth middlewares (Express's "No token
// provided", jsonwebtoken's "jwt malformed", Laravel's "Unauthenticated.",
// "Please log in").
var deniedRe = regexp.MustCompile(`(?i)unauthori[sz]ed|unauthenticated|forbidden|not authenticated|authentication (is )?(required|failed)|` +
	`log(ged)?[ -]?in (is )?required|please (log|sign)[ -]?in|must (be )?(logged|signed)[ -]?in|not (logged|signed)[ -]?in|` +
	`access denied|permission denied|not permitted|invalid (token|credentials|session)|(no|missing) (auth\w*|token|credentials|session)|` +
	`token (is )?(missing|required|expired|invalid|not provided)|(credentials|authorization|token) (were |was |is )?not provided|` +
	`jwt (malformed|expired|must be provided)|session (has )?expired`)

// granted reports whether ex is a real success: 2xx and not an error body
// dressed as 200 (a refusal message, or a failure envelope).
func granted(ex *scan.Exchange) bool {
	if !ex.OK() {
		return false
	}
	return !deniedRe.Match(ex.Body[:min(len(ex.Body), 512)]) && !failureEnvelope(ex.Body)
}

// failureEnvelope reports whether a 2xx JSON body is a failure, as APIs
// that answer 200 on failure write it: a false success/ok flag
// ({"success": false, "message": "..."}), a JSend-style status of error or
// fail, or an object holding a non-empty error and nothing but error
// metadata beside it ({"error": "..."}, {"errors": [...], "code": 12}).
func failureEnvelope(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' || len(b) > 64<<10 {
		return false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	hasErr, onlyMeta := false, true
	for k, v := range m {
		switch strings.ToLower(k) {
		case "success", "ok", "succeeded", "successful":
			if f, isBool := v.(bool); isBool && !f {
				return true
			}
			if s, _ := v.(string); strings.EqualFold(s, "false") {
				return true
			}
		case "status", "result":
			if s, ok := v.(string); ok {
				switch strings.ToLower(s) {
				case "error", "fail", "failed", "failure", "unauthorized", "forbidden", "denied":
					return true
				}
			}
		case "error", "errors", "err":
			hasErr = hasErr || nonEmpty(v)
		case "message", "msg", "detail", "details", "code", "statuscode", "status_code", "timestamp", "path",
			"requestid", "request_id", "traceid", "trace_id", "type", "title", "hint":
		default:
			onlyMeta = false
		}
	}
	return hasErr && onlyMeta
}

// nonEmpty reports whether a decoded JSON value carries something: not
// null, false, "", [] or {}.
func nonEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// sameObject is the body similarity (scan.Similarity) from which two
// answers show the same object.
const sameObject = 0.8

// sameData reports whether a 2xx answer to a request without valid
// credentials carries what the identity's answer ref carries: a real
// success (granted) at least 80 % like ref's body, or any real success
// when there is no successful ref to compare with. An API that answers
// anonymous callers 200 with another body (an empty list, a message)
// refuses them in effect.
func sameData(anon, ref *scan.Exchange) bool {
	if !granted(anon) {
		return false
	}
	if ref == nil || !granted(ref) {
		return true
	}
	return scan.Similarity(anon.Body, ref.Body) >= sameObject
}

// probe finds an operation that proves authentication matters: id gets a
// real success and an anonymous caller does not. GETs are preferred.
func probe(ctx context.Context, t *scan.Target, id *scan.Identity) (*openapi.Operation, *scan.Prepared, *scan.Exchange, error) {
	cands := ops(t, func(op *openapi.Operation) bool {
		return !scan.IsLogin(op) && !scan.IsLogout(op) && (op.Method == http.MethodGet || op.Method == http.MethodHead)
	})
	for _, op := range cands {
		ex, err := t.Baseline(ctx, op, id)
		if scan.Stop(ctx, err) {
			return nil, nil, nil, err
		}
		if err != nil || ex == nil || !granted(ex) {
			continue
		}
		p := t.Prepare(op, id)
		anon, err := t.Send(ctx, p, nil)
		if scan.Stop(ctx, err) {
			return nil, nil, nil, err
		}
		if err != nil || anon.Status != http.StatusUnauthorized && anon.Status != http.StatusForbidden {
			continue
		}
		return op, p, ex, nil
	}
	return nil, nil, nil, nil
}

// yamlQuote quotes s for a YAML flow snippet when needed.
func yamlQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`).MatchString(s) {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// join lists names for a detail line.
func join(xs []string) string { return strings.Join(xs, ", ") }
