package gateway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/inspect"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
)

// contractOps converts the spec index into the contract packages' operation list.
func contractOps(spec *openapi.Spec) []oasvalidate.Operation {
	ops := make([]oasvalidate.Operation, 0, len(spec.Operations))
	for _, o := range spec.Operations {
		ops = append(ops, oasvalidate.Operation{ID: o.ID, Method: o.Method, Template: o.Template,
			PathItem: openapi.PathItem(o), Op: openapi.Op(o), Params: openapi.Params(o)})
	}
	return ops
}

func contractLogger(b *builder, component string) *slog.Logger {
	if b.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.log.With("component", component)
}

// checkContractOps reports per-operation keys that name no operation.
func checkContractOps[T any](b *builder, path string, m map[string]T) error {
	for id := range m {
		if b.spec.Operation(id) == nil {
			return config.AtPath(path+"."+id, fmt.Errorf("operation %q is not in the spec", id))
		}
	}
	return nil
}

// buildRequestValidation compiles the request stage; a nil Middleware means the stage is off.
func (b *builder) buildRequestValidation(ctx context.Context) (gatehouse.Middleware, error) {
	rc := &b.cfg.Request
	if !rc.Validate || b.spec == nil {
		return nil, nil
	}
	if err := checkContractOps(b, "request.operations", rc.Operations); err != nil {
		return nil, err
	}
	maxBody := int64(rc.MaxBody)
	if maxBody <= 0 {
		maxBody = int64(b.cfg.Limits.MaxBody)
	}
	opts := oasvalidate.Options{
		MaxBody:          maxBody,
		Limits:           requestJSONLimits(rc),
		MaxParts:         rc.MaxParts,
		MaxPartSize:      int64(rc.MaxPartSize),
		RejectUnknown:    rc.RejectUnknownProperties,
		RejectUnknownOps: map[string]bool{},
		ShellFields:      map[string][]string{},
		PathFields:       map[string][]string{},
		ExposeField:      b.cfg.Errors.ValidationDetail != "none",
		Logger:           contractLogger(b, "request_validation"),
	}
	opts.RejectUnknownQuery = rc.RejectUnknownQuery
	if rc.DetectInjection {
		opts.Injection = inspect.Default
	}
	for id, o := range rc.Operations {
		if o.RejectUnknownProperties != nil {
			opts.RejectUnknownOps[id] = *o.RejectUnknownProperties
		}
		opts.ShellFields[id] = o.ShellFields
		opts.PathFields[id] = o.PathFields
	}
	switch rc.Mode {
	case config.ModeEnforce:
		m := gatehouse.Enforce
		opts.Mode = &m
	case config.ModeMonitor:
		m := gatehouse.Monitor
		opts.Mode = &m
	}
	if b.metrics != nil {
		failures, err := reuse(b.metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_validation_failures_total",
			Help: "Requests that failed contract validation (enforced or monitored), by operation and kind.",
		}, []string{"operation", "kind"}))
		if err != nil {
			return nil, err
		}
		opts.Observe = func(op, kind string) { failures.WithLabelValues(op, kind).Inc() }
	}
	v, err := oasvalidate.New(openapi.Model(b.spec), contractOps(b.spec), opts)
	if err != nil {
		return nil, config.AtPath("spec", err)
	}
	return v.Middleware, nil
}

// requestJSONLimits are the limits every stage reads the request body's JSON
// with (validation, password policy, ownership rules, login limiter): one
// set, so the body is parsed once per request (httpx.JSON) and no stage can
// accept a document another refuses for its depth or size.
func requestJSONLimits(rc *config.Request) jsonx.Limits {
	return jsonx.Limits{MaxDepth: rc.MaxDepth, MaxStringLen: int(rc.MaxStringLength),
		MaxArrayLen: rc.MaxArrayLength, MaxKeys: rc.MaxObjectKeys}
}
