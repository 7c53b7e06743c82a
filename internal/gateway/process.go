package gateway

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// RunProcess is the body of `gatehouse serve`: it builds a Server from opts
// and serves until SIGINT or SIGTERM (then drains in-flight requests, see
// Server.Run), reloading on SIGHUP. It owns the process's signals, so call it
// from a main function only. It is exported so that a test binary can run
// the very code the command runs as a real process, without building the
// command a second time (a nested `go build` under `go test ./...` compiled
// the module again beside the test build).
func RunProcess(ctx context.Context, opts ServerOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := NewServer(ctx, opts)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = s.Reload(ctx)
			}
		}
	}()
	return s.Run(ctx)
}
