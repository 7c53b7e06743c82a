package dynamic

import (
	"context"
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

var deniedRe = regexp.MustCompile(`(?i)unauthori[sz]ed|forbidden|not authenticated|authentication required|login required|access denied|invalid token|permission denied`)

// granted reports whether ex is a real success: 2xx and not an error body
// dressed as 200.
func granted(ex *scan.Exchange) bool {
	if !ex.OK() {
		return false
	}
	return !deniedRe.Match(ex.Body[:min(len(ex.Body), 512)])
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
