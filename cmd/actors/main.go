// Command actors hosts TaskFlow's task actors (one Dapr virtual actor per
// task) and the outbox relay that publishes their events.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/outbox"
	"github.com/taskflow/taskflow/postgres"
)

type config struct {
	Port         int
	DaprHTTPPort int
	DaprGRPCPort int
	DatabaseURL  string
	DBMaxConns   int
	LogLevel     string
	PprofAddr    string
	PubSub       string
	Runtime      actors.RuntimeConfig
	Outbox       outbox.Config
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:         env.Port("APP_PORT", 8083),
		DaprHTTPPort: env.Port("DAPR_HTTP_PORT", 3501),
		DaprGRPCPort: env.Port("DAPR_GRPC_PORT", 50011),
		DatabaseURL:  env.String("DATABASE_URL", postgres.DefaultURL),
		DBMaxConns:   env.Int("DB_MAX_CONNS", 32, 1, 1000),
		LogLevel:     env.String("LOG_LEVEL", "info"),
		PprofAddr:    env.String("PPROF_ADDR", ""),
		PubSub:       env.String("PUBSUB_NAME", "taskflow-pubsub"),
		Runtime: actors.RuntimeConfig{
			IdleTimeout:         env.Duration("ACTOR_IDLE_TIMEOUT", 10*time.Minute, time.Second),
			DrainOngoingTimeout: env.Duration("ACTOR_DRAIN_TIMEOUT", 30*time.Second, time.Second),
		},
		Outbox: outbox.Config{
			BatchSize:    env.Int("OUTBOX_BATCH_SIZE", 500, 1, 10_000),
			PollInterval: env.Duration("OUTBOX_POLL_INTERVAL", 100*time.Millisecond, time.Millisecond),
			Retention:    env.Duration("OUTBOX_RETENTION", time.Hour, 0),
		},
	}
	switch fp := env.String("TASKFLOW_FAILPOINT", ""); fp {
	case "":
	case "outbox-before-publish":
		c.Outbox.CrashBeforePublish = true
	default:
		env.Fail(fmt.Errorf("TASKFLOW_FAILPOINT=%q: unknown failpoint (known: outbox-before-publish)", fp))
	}
	return c, env.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := platform.NewEnv()
	cfg, cfgErr := loadConfig(env)
	logger, err := platform.NewLogger(os.Stdout, cfg.LogLevel, "actors")
	if err != nil {
		cfgErr = errors.Join(cfgErr, err)
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfgErr != nil {
		logger.Error("invalid configuration", "error", cfgErr)
		os.Exit(2)
	}
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("actors app failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns), logger)
	if err != nil {
		return err
	}
	defer pool.Close()

	connectCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	client, err := platform.DaprClient(connectCtx, cfg.DaprGRPCPort)
	cancel()
	if err != nil {
		return err
	}
	defer client.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	relay, err := outbox.New(cfg.Outbox, postgres.NewOutbox(pool),
		outbox.DaprPublisher{Client: client, PubSub: cfg.PubSub}, reg, logger)
	if err != nil {
		return err
	}
	actorMetrics, err := actors.NewMetrics(reg)
	if err != nil {
		return err
	}
	deps := &actors.Deps{
		Store:     postgres.NewTasks(pool),
		Committed: relay.Kick,
		Now:       time.Now,
		Logger:    logger.With("component", "task_actor"),
		Metrics:   actorMetrics,
	}
	checks := platform.Checks{"postgres": platform.DatabaseCheck(pool), "dapr": platform.SidecarCheck(cfg.DaprHTTPPort)}
	svc := actors.NewService(":"+strconv.Itoa(cfg.Port), deps, cfg.Runtime, map[string]http.Handler{
		"/health/live":  platform.LiveHandler(),
		"/health/ready": platform.ReadyHandler(checks),
		"/metrics":      promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error {
		logger.InfoContext(gctx, "actors app listening", "port", cfg.Port)
		if err := svc.Start(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Stop taking actor calls; the SDK waits up to 5 s for calls in flight.
		return svc.GracefulStop()
	})
	return g.Wait()
}
