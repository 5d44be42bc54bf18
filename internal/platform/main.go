package platform

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Main is every app's main: it reads the configuration from the
// environment, makes the JSON logger at the configured level, sets up
// tracing (StartTracing) and runs the app until SIGINT or SIGTERM. A bad
// configuration exits 2 (naming every problem), a failed run exits 1; the
// spans still buffered are flushed either way.
func Main[C any](app string, load func(*Env) (C, error), logLevel func(C) string,
	run func(context.Context, C, *slog.Logger) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := NewEnv()
	tcfg := LoadTracingConfig(env, app) // load's env.Err() reports its problems
	cfg, cfgErr := load(env)
	logger, err := NewLogger(os.Stdout, logLevel(cfg), app)
	if err != nil {
		cfgErr = errors.Join(cfgErr, err)
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfgErr != nil {
		logger.Error("invalid configuration", "error", cfgErr)
		os.Exit(2)
	}
	shutdownTracing, err := StartTracing(ctx, tcfg, logger)
	if err != nil {
		logger.Error(app+" app failed", "error", err)
		os.Exit(1)
	}
	err = run(ctx, cfg, logger)
	stop()
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if ferr := shutdownTracing(flushCtx); ferr != nil {
		logger.Warn("flushing traces failed", "error", ferr)
	}
	cancel()
	if err != nil {
		logger.Error(app+" app failed", "error", err)
		os.Exit(1)
	}
}

// NewRegistry is an app's metrics registry, with the Go runtime's and the
// process's metrics in it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
