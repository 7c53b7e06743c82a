package gateway

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// readyProbe is one dependency a pipeline checks for /readyz (today: the
// rate limiter's Redis). Stage builders add them with builder.addReadyProbe.
type readyProbe struct {
	// name is the key in the /readyz body, e.g. "ratelimit_store"; it never
	// carries an address or a secret.
	name string
	// check answers within its own short timeout (nil: up).
	check func(ctx context.Context) error
	// required: a failure makes the gateway not ready (503). Otherwise the
	// gateway stays ready and the body reports the dependency "degraded"
	// (e.g. on_store_error local or allow: requests are still served).
	required bool
	// observe, when set, receives every result (metrics).
	observe func(up bool)
}

// readyProbeTimeout bounds one probe, on top of the probe's own timeout.
const readyProbeTimeout = time.Second

// pipelineProbes maps a pipeline's *config.Config to its probes. The
// Pipeline struct has no field for them yet (build.go is shared), and the
// config pointer is the one value a builder and its Pipeline share; a
// probe is removed when its pipeline closes (or its Build fails).
// TODO(owner of build.go): move this into builder/Pipeline fields.
var pipelineProbes sync.Map // *config.Config -> *probeSet

type probeSet struct {
	mu     sync.Mutex
	probes []*readyProbe
}

// addReadyProbe registers p for the pipeline being built.
func (b *builder) addReadyProbe(p readyProbe) {
	v, _ := pipelineProbes.LoadOrStore(b.cfg, &probeSet{})
	set := v.(*probeSet)
	pp := &p
	set.mu.Lock()
	set.probes = append(set.probes, pp)
	set.mu.Unlock()
	b.onClose(func() error {
		set.mu.Lock()
		defer set.mu.Unlock()
		set.probes = slices.DeleteFunc(set.probes, func(x *readyProbe) bool { return x == pp })
		if len(set.probes) == 0 {
			pipelineProbes.CompareAndDelete(b.cfg, set)
		}
		return nil
	})
}

// readyProbes returns the probes of the pipeline built from cfg.
func readyProbes(cfg *config.Config) []readyProbe {
	v, ok := pipelineProbes.Load(cfg)
	if !ok {
		return nil
	}
	set := v.(*probeSet)
	set.mu.Lock()
	defer set.mu.Unlock()
	out := make([]readyProbe, len(set.probes))
	for i, p := range set.probes {
		out[i] = *p
	}
	return out
}

// probeResult is what one probe reports in the /readyz body.
const (
	probeOK          = "ok"
	probeUnreachable = "unreachable"
	probeDegraded    = "degraded"
)

// runReadyProbes checks every probe of p's pipeline. It fills checks (name
// → ok | unreachable | degraded) and returns whether all required probes
// passed and the names of the degraded ones.
func runReadyProbes(ctx context.Context, cfg *config.Config, checks map[string]string) (ok bool, degraded []string) {
	ok = true
	for _, pr := range readyProbes(cfg) {
		var err error
		if pr.check != nil {
			pctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
			err = pr.check(pctx)
			cancel()
		}
		if pr.observe != nil {
			pr.observe(err == nil)
		}
		switch {
		case err == nil:
			checks[pr.name] = probeOK
		case pr.required:
			checks[pr.name], ok = probeUnreachable, false
		default:
			checks[pr.name] = probeDegraded
			degraded = append(degraded, pr.name)
		}
	}
	return ok, degraded
}
