package gateway

import (
	"context"
	"github.com/gatehouse/gatehouse/openapi"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/respfilter"
)

// buildResponseFilter compiles the response stage; a nil Middleware means the stage is off.
func (b *builder) buildResponseFilter(ctx context.Context) (gatehouse.Middleware, error) {
	rc := &b.cfg.Response
	if b.spec == nil {
		return nil, nil
	}
	mode, err := respfilter.ParseMode(rc.Mode)
	if err != nil {
		return nil, config.AtPath("response.mode", err)
	}
	if mode == respfilter.ModeOff && len(rc.Operations) == 0 {
		return nil, nil
	}
	if err := checkContractOps(b, "response.operations", rc.Operations); err != nil {
		return nil, err
	}
	opts := respfilter.Options{
		Mode:       mode,
		Mask:       append([]string{}, rc.MaskFields...),
		MaskCards:  rc.MaskCardNumbers,
		MaxBody:    int64(rc.MaxBody),
		Logger:     contractLogger(b, "response_filter"),
		Operations: map[string]respfilter.OperationOptions{},
	}
	if rc.Oversize == "pass" {
		opts.Oversize = respfilter.OversizePass
	}
	if rc.OnMismatch == "pass" {
		opts.OnMismatch = respfilter.MismatchPass
	}
	for id, o := range rc.Operations {
		oo := respfilter.OperationOptions{Unmask: o.Unmask}
		if o.Mode != "" {
			m, err := respfilter.ParseMode(o.Mode)
			if err != nil {
				return nil, config.AtPath("response.operations."+id+".mode", err)
			}
			oo.Mode = &m
		}
		for code, s := range o.Status {
			m, err := respfilter.ParseMode(s)
			if err != nil {
				return nil, config.AtPath("response.operations."+id+".status."+code, err)
			}
			if oo.Status == nil {
				oo.Status = map[string]respfilter.Mode{}
			}
			oo.Status[code] = m
		}
		opts.Operations[id] = oo
	}
	addRouteMasks(b, opts.Operations)
	if b.metrics != nil {
		actions, err := reuse(b.metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_response_filter_actions_total",
			Help: "Response filter actions (stripped, masked, invalid, unparseable, oversize_pass, oversize_block, encoded, undeclared_status, undeclared_content_type, charset, shape_mismatch), by operation.",
		}, []string{"operation", "action"}))
		if err != nil {
			return nil, err
		}
		opts.Observe = func(op, action string) { actions.WithLabelValues(op, action).Inc() }
	}
	f, err := respfilter.New(openapi.Model(b.spec), contractOps(b.spec), opts)
	if err != nil {
		return nil, config.AtPath("spec", err)
	}
	return f.Middleware, nil
}
