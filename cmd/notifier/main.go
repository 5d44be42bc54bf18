// Command notifier delivers task events to users' browsers over Server-Sent Events.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/notifier"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

type config struct {
	Port         int
	DaprHTTPPort int
	DatabaseURL  string
	LogLevel     string
	PprofAddr    string
	PubSub       string
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:         env.Port("APP_PORT", 8081),
		DaprHTTPPort: env.Port("DAPR_HTTP_PORT", 3502),
		DatabaseURL:  env.String("DATABASE_URL", postgres.DefaultURL),
		LogLevel:     env.String("LOG_LEVEL", "info"),
		PprofAddr:    env.String("PPROF_ADDR", ""),
		PubSub:       env.String("PUBSUB_NAME", "taskflow-pubsub"),
	}
	return c, env.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, cfgErr := loadConfig(platform.NewEnv())
	logger, err := platform.NewLogger(os.Stdout, cfg.LogLevel, "notifier")
	if err != nil {
		cfgErr = errors.Join(cfgErr, err)
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfgErr != nil {
		logger.Error("invalid configuration", "error", cfgErr)
		os.Exit(2)
	}
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("notifier app failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, 8, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := notifier.New(reg, logger)
	if err != nil {
		return err
	}
	checks := platform.Checks{"postgres": platform.DatabaseCheck(pool), "dapr": platform.SidecarCheck(cfg.DaprHTTPPort)}
	mux := http.NewServeMux()
	mux.Handle("GET /health/live", platform.LiveHandler())
	mux.Handle("GET /health/ready", platform.ReadyHandler(checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /dapr/subscribe", subscribe.ListHandler(subscribe.Subscription{
		PubsubName: cfg.PubSub, Topic: task.Topic, Route: "/events/task-events", Metadata: subscribe.RawPayload,
		BulkSubscribe: &subscribe.Bulk{Enabled: true, MaxMessages: 100, MaxAwaitMs: 20},
	}))
	mux.Handle("POST /events/task-events", subscribe.BulkHandler(subscribe.Each(svc.Handle), logger))

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "notifier listening", "port", cfg.Port)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return platform.ServeHTTP(ctx, srv, ln, 20*time.Second)
}
