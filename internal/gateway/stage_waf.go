package gateway

import (
	"context"
	"fmt"
	"github.com/gatehouse/gatehouse/openapi"
	"mime"
	"regexp"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/waf"
)

// buildWAF compiles the optional Coraza + OWASP CRS stage; a nil Middleware
// means the stage is off (the default). It runs after authentication and
// rate limiting, so an anonymous or throttled flood never reaches the
// expensive rule engine, and before authorization and validation.
//
// The CRS's method and content-type allow lists (rules 911100, 920420) are
// extended with what the spec declares: the router and request validation
// already refuse anything else, and APIs use PUT/PATCH/DELETE and
// application/*+json that the CRS defaults would score as attacks.
func (b *builder) buildWAF(ctx context.Context) (gatehouse.Middleware, error) {
	wc := &b.cfg.WAF
	if !wc.Enabled {
		return nil, nil
	}
	maxBody := int64(b.cfg.Request.MaxBody)
	if maxBody <= 0 {
		maxBody = int64(b.cfg.Limits.MaxBody)
	}
	methods, cts := wafSpecAllowLists(b)
	w, err := waf.New(waf.Options{
		ParanoiaLevel:       wc.ParanoiaLevel,
		AnomalyThreshold:    wc.AnomalyThreshold,
		InspectBody:         wc.InspectBody,
		MaxBody:             maxBody,
		ExcludeRules:        wc.ExcludeRules,
		RuleFiles:           wc.Rules,
		AllowedMethods:      methods,
		AllowedContentTypes: cts,
		Logger:              contractLogger(b, "waf"),
	})
	if err != nil {
		return nil, err
	}
	b.onClose(w.Close)
	tp, err := httpx.ParseTrustedProxies(b.cfg.TrustedProxies)
	if err != nil {
		return nil, config.AtPath("trusted_proxies", err)
	}
	mo := waf.MiddlewareOptions{ClientIP: tp.ClientIP, Operations: map[string]waf.Operation{}}
	keys := make([]string, 0, len(wc.Operations))
	for k := range wc.Operations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		oc := wc.Operations[key]
		op := findOperation(b.spec, key)
		if op == nil {
			return nil, config.AtPath("waf.operations."+key, fmt.Errorf("operation %q is not in the spec", key))
		}
		o := waf.Operation{ExcludeRules: oc.ExcludeRules}
		if oc.Enabled != nil && !*oc.Enabled {
			o.Disabled = true
		}
		mo.Operations[op.ID] = o
	}
	switch wc.Mode {
	case config.ModeEnforce:
		m := gatehouse.Enforce
		mo.Mode = &m
	case config.ModeMonitor:
		m := gatehouse.Monitor
		mo.Mode = &m
	}
	if b.metrics != nil {
		decisions, err := reuse(b.metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_waf_decisions_total",
			Help: "WAF (Coraza + OWASP CRS) decisions by operation and outcome (pass, blocked, monitored, skipped, error).",
		}, []string{"operation", "outcome"}))
		if err != nil {
			return nil, err
		}
		mo.Observe = func(op, outcome string) {
			if op == "" {
				op = "unmatched"
			}
			decisions.WithLabelValues(op, outcome).Inc()
		}
	}
	return w.Middleware(mo), nil
}

// wafMediaType is what can be spliced into the CRS allow list.
var wafMediaType = regexp.MustCompile(`^[a-z0-9.+_-]+/[a-z0-9.+_-]+$`)

// wafSpecAllowLists returns the methods and request media types the spec declares.
func wafSpecAllowLists(b *builder) (methods, contentTypes []string) {
	if b.spec == nil {
		return nil, nil
	}
	seenM, seenCT := map[string]bool{}, map[string]bool{}
	for _, op := range b.spec.Operations {
		if !seenM[op.Method] {
			seenM[op.Method] = true
			methods = append(methods, op.Method)
		}
		if openapi.Op(op) == nil || openapi.Op(op).RequestBody == nil || openapi.Op(op).RequestBody.Content == nil {
			continue
		}
		for mt := range openapi.Op(op).RequestBody.Content.FromOldest() {
			t, _, err := mime.ParseMediaType(mt)
			if err != nil || !wafMediaType.MatchString(t) || seenCT[t] {
				continue // wildcard ranges ("*/*", "image/*") are not added
			}
			seenCT[t] = true
			contentTypes = append(contentTypes, t)
		}
	}
	sort.Strings(methods)
	sort.Strings(contentTypes)
	return methods, contentTypes
}
