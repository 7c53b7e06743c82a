package waf

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/problem"
)

// Outcomes passed to MiddlewareOptions.Observe (a bounded set).
const (
	OutcomePass      = "pass"      // inspected, nothing blocking matched
	OutcomeBlocked   = "blocked"   // rejected (enforce mode)
	OutcomeMonitored = "monitored" // would have been rejected; monitor mode let it pass
	OutcomeSkipped   = "skipped"   // the WAF is disabled for this operation
	OutcomeError     = "error"     // the request could not be inspected
)

// Operation overrides the WAF for one operation (by gatehouse.Route.OperationID).
type Operation struct {
	// Disabled skips the WAF for the operation (e.g. an upload endpoint
	// whose binary bodies the CRS cannot judge).
	Disabled bool
	// ExcludeRules are CRS rule IDs removed for this operation only.
	ExcludeRules []int
}

// MiddlewareOptions configures (*WAF).Middleware.
type MiddlewareOptions struct {
	// Mode, when set, overrides the route's enforce/monitor mode.
	Mode *gatehouse.Mode
	// ClientIP resolves the client address given to the CRS (REMOTE_ADDR);
	// nil uses the TCP peer. Use the gateway's trusted-proxy resolution,
	// never a client-supplied header.
	ClientIP func(*http.Request) netip.Addr
	// Operations holds per-operation overrides keyed by operationId.
	Operations map[string]Operation
	// Observe, if set, is called once per request with the operationId
	// ("" when unrouted) and one of the Outcome* constants.
	Observe func(operation, outcome string)
}

// maxLoggedMessages bounds the rule messages copied into the record.
const maxLoggedMessages = 8

// Middleware returns the WAF as a gatehouse.Middleware. A blocked request
// gets a generic problem body (403, or 400/413 for an unparsable/oversize
// body) and the record gets stage "waf", reason "anomaly" (or another
// Reason* constant) and attrs waf_rules/waf_messages; no rule text reaches
// the client. In monitor mode the same is recorded and the request passes.
// A request that cannot be inspected (body read error) fails closed with
// a 400 in enforce mode.
func (w *WAF) Middleware(o MiddlewareOptions) gatehouse.Middleware {
	ops := make(map[string]Operation, len(o.Operations))
	for k, v := range o.Operations {
		v.ExcludeRules = append([]int(nil), v.ExcludeRules...)
		ops[k] = v
	}
	observe := o.Observe
	if observe == nil {
		observe = func(string, string) {}
	}
	clientIP := o.ClientIP
	if clientIP == nil {
		clientIP = httpx.PeerAddr
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			opID, mode := "", gatehouse.Enforce
			if rt := gatehouse.RouteFrom(ctx); rt != nil {
				opID, mode = rt.OperationID, rt.Mode
			}
			if o.Mode != nil {
				mode = *o.Mode
			}
			op := ops[opID]
			if op.Disabled {
				observe(opID, OutcomeSkipped)
				next.ServeHTTP(rw, r)
				return
			}
			v, err := w.Check(r, clientIP(r), op.ExcludeRules)
			rec := gatehouse.RecordFrom(ctx)
			if err != nil {
				observe(opID, OutcomeError)
				w.log.LogAttrs(ctx, slog.LevelWarn, "waf could not inspect request",
					slog.String("request_id", rec.Snapshot().RequestID),
					slog.String("operation", opID), slog.String("error", err.Error()))
				if gatehouse.Decide(ctx, mode, Stage, "error") {
					problem.Write(rw, r, http.StatusBadRequest)
					return
				}
				next.ServeHTTP(rw, r)
				return
			}
			if !v.Blocked {
				observe(opID, OutcomePass)
				next.ServeHTTP(rw, r)
				return
			}
			rec.Set("waf_rules", v.RuleIDs())
			rec.Set("waf_messages", messages(v.Matched))
			w.log.LogAttrs(ctx, slog.LevelInfo, "waf matched",
				slog.String("request_id", rec.Snapshot().RequestID),
				slog.String("operation", opID), slog.String("mode", mode.String()),
				slog.String("reason", v.Reason), slog.Int("rule_id", v.RuleID),
				slog.String("rules", v.RuleIDs()))
			if !gatehouse.Decide(ctx, mode, Stage, v.Reason) {
				observe(opID, OutcomeMonitored)
				next.ServeHTTP(rw, r)
				return
			}
			observe(opID, OutcomeBlocked)
			problem.Write(rw, r, v.Status)
		})
	}
}

// messages joins the first rule messages as "942100 SQL Injection ...; ...".
func messages(ms []Match) string {
	var b strings.Builder
	for i, m := range ms {
		if i == maxLoggedMessages {
			b.WriteString("; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strconv.Itoa(m.ID))
		b.WriteByte(' ')
		msg := m.Message
		if len(msg) > 120 {
			msg = msg[:120]
		}
		b.WriteString(strings.ToValidUTF8(msg, "?"))
	}
	return b.String()
}
