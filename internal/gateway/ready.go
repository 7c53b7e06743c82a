package gateway

import (
	"context"
	"time"
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

// addReadyProbe registers p for the pipeline being built.
func (b *builder) addReadyProbe(p readyProbe) { b.probes = append(b.probes, p) }

// probeResult is what one probe reports in the /readyz body.
const (
	probeOK          = "ok"
	probeUnreachable = "unreachable"
	probeDegraded    = "degraded"
)

// runReadyProbes checks every probe of a pipeline. It fills checks (name
// → ok | unreachable | degraded) and returns whether all required probes
// passed and the names of the degraded ones.
func runReadyProbes(ctx context.Context, probes []readyProbe, checks map[string]string) (ok bool, degraded []string) {
	ok = true
	for _, pr := range probes {
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
