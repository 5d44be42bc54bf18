package platform

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Main is every app's main: it reads the configuration from the
// environment, makes the JSON logger at the configured level, and runs the
// app until SIGINT or SIGTERM. A bad configuration exits 2 (naming every
// problem), a failed run exits 1.
func Main[C any](app string, load func(*Env) (C, error), logLevel func(C) string,
	run func(context.Context, C, *slog.Logger) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cfg, cfgErr := load(NewEnv())
	logger, err := NewLogger(os.Stdout, logLevel(cfg), app)
	if err != nil {
		cfgErr = errors.Join(cfgErr, err)
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfgErr != nil {
		logger.Error("invalid configuration", "error", cfgErr)
		os.Exit(2)
	}
	err = run(ctx, cfg, logger)
	stop()
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
