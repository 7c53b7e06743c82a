// Package gateway compiles a config.Config into an immutable Pipeline (Build)
// and serves it (Server), swapping pipelines atomically on reload.
package gateway

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/openapi"
)

// builder carries what every stage builder needs while Build runs.
// Stage builders live in stage_*.go, one file per stage.
type builder struct {
	cfg     *config.Config
	spec    *openapi.Spec
	log     *slog.Logger
	metrics prometheus.Registerer
	// closers run, in reverse order, when the pipeline closes or Build fails.
	closers []func() error
}

// onClose registers f to run when the pipeline is closed (or Build fails).
func (b *builder) onClose(f func() error) { b.closers = append(b.closers, f) }

var _ = context.Background
var _ gatehouse.Middleware
