// Command actors hosts TaskFlow's task actors (one Dapr virtual actor per
// task) and the outbox relay that publishes their events.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dapr/durabletask-go/workflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/internal/actorhost"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/internal/retention"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/operations"
	"github.com/taskflow/taskflow/outbox"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

type config struct {
	Port         int
	DaprHTTPPort int
	DaprGRPCPort int
	DatabaseURL  string
	Migrate      bool
	DBMaxConns   int
	Writes       postgres.TasksConfig
	LogLevel     string
	PprofAddr    string
	PubSub       string
	Host         actorhost.Config
	Outbox       outbox.Config
	Limits       task.Limits
	Series       actors.SeriesConfig
	Operations   operations.Config
	Retention    retention.Config
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:         env.Port("APP_PORT", 8083),
		DaprHTTPPort: env.Port("DAPR_HTTP_PORT", 3501),
		DaprGRPCPort: env.Port("DAPR_GRPC_PORT", 50011),
		DatabaseURL:  env.String("DATABASE_URL", postgres.DefaultURL),
		Migrate:      platform.MigrateOnStart(env),
		DBMaxConns:   env.Int("DB_MAX_CONNS", 32, 1, 1000),
		Writes: postgres.TasksConfig{
			WriteConcurrency: env.Int("DB_WRITE_CONCURRENCY", 4, 1, 1000),
			WriteBatch:       env.Int("DB_WRITE_BATCH", 64, 1, 10_000),
		},
		LogLevel:  env.String("LOG_LEVEL", "info"),
		PprofAddr: env.String("PPROF_ADDR", ""),
		PubSub:    env.String("PUBSUB_NAME", "taskflow-pubsub"),
		Host: actorhost.Config{
			ActorType:           actors.TaskActorType,
			IdleTimeout:         env.Duration("ACTOR_IDLE_TIMEOUT", 10*time.Minute, time.Second),
			DrainOngoingTimeout: env.Duration("ACTOR_DRAIN_TIMEOUT", 30*time.Second, time.Second),
		},
		Outbox: outbox.Config{
			BatchSize:    env.Int("OUTBOX_BATCH_SIZE", 500, 1, 10_000),
			PollInterval: env.Duration("OUTBOX_POLL_INTERVAL", 100*time.Millisecond, time.Millisecond),
			LeaseTTL:     env.Duration("OUTBOX_LEASE_TTL", 10*time.Second, time.Second),
			MaxAttempts:  env.Int("OUTBOX_MAX_ATTEMPTS", 10, 1, 1000),
		},
	}
	// Final bookkeeping rows (sent or cancelled reminders, series of
	// deleted tasks, finished operations) are deleted this many days on.
	c.Retention = retention.Config{Retention: time.Duration(env.Int("RETENTION_DAYS", 30, 1, 3650)) * 24 * time.Hour}
	c.Limits = task.Limits{MinRecurrenceInterval: env.Duration("RECURRENCE_MIN_INTERVAL", time.Minute, time.Second)}
	c.Series = actors.SeriesConfig{
		MissedPolicy: env.String("SERIES_MISSED_POLICY", actors.MissedLatest),
		CatchUpMax:   env.Int("SERIES_CATCHUP_MAX", 100, 1, 10_000),
		RetryPeriod:  env.Duration("SERIES_RETRY_PERIOD", 30*time.Second, time.Second),
	}
	if p := c.Series.MissedPolicy; p != actors.MissedLatest && p != actors.MissedAll {
		env.Fail(fmt.Errorf("SERIES_MISSED_POLICY=%q: want latest or all", p))
	}
	switch fp := env.String("TASKFLOW_FAILPOINT", ""); {
	case fp == "":
	case fp == "outbox-before-publish":
		c.Outbox.CrashBeforePublish = true
	case strings.HasPrefix(fp, "workflow-crash-after-"):
		n, err := strconv.Atoi(strings.TrimPrefix(fp, "workflow-crash-after-"))
		if err != nil || n < 1 {
			env.Fail(fmt.Errorf("TASKFLOW_FAILPOINT=%q: want workflow-crash-after-N with N >= 1", fp))
		}
		c.Operations.CrashAfterActivities = n
	default:
		env.Fail(fmt.Errorf("TASKFLOW_FAILPOINT=%q: unknown failpoint (known: outbox-before-publish, workflow-crash-after-N)", fp))
	}
	return c, env.Err()
}

func main() {
	platform.Main("actors", loadConfig, func(c config) string { return c.LogLevel }, run)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, "taskflow-actors", int32(cfg.DBMaxConns), cfg.Migrate, logger)
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

	reg := platform.NewRegistry()
	// Events the relay gives up on go to the dead-letter topic, where the
	// auditor files them for the ops view.
	relay, err := outbox.New(cfg.Outbox, postgres.NewOutbox(pool),
		outbox.DaprPublisher{Client: client, PubSub: cfg.PubSub, Tracer: tracing.Tracer()},
		auditor.NewDaprDeadLetters(cfg.DaprHTTPPort, cfg.PubSub), reg, logger)
	if err != nil {
		return err
	}
	actorMetrics, err := actors.NewMetrics(reg)
	if err != nil {
		return err
	}
	store := postgres.NewTasksConfig(pool, cfg.Writes)
	if err := registerWriteStats(reg, store); err != nil {
		return err
	}
	peers := actors.NewClient(client)
	wf := workflow.NewClient(client.GrpcClientConn())
	runner := operations.NewRunner(cfg.Operations, peers, store, postgres.NewOperations(pool), wf, logger)
	registry := workflow.NewRegistry()
	if err := runner.Register(registry); err != nil {
		return fmt.Errorf("register workflows: %w", err)
	}
	deps := &actors.Deps{
		Store:     store,
		Committed: relay.Kick,
		Now:       time.Now,
		Logger:    logger.With("component", "task_actor"),
		Metrics:   actorMetrics,
		Limits:    cfg.Limits,
		Peers:     peers,
		Reminders: client,
		Scheduled: actors.NewSidecarReminders(cfg.DaprHTTPPort),
		Workflows: runner,
		Series:    cfg.Series,
		Tracer:    tracing.Tracer(),
	}
	host, err := actorhost.New(cfg.Host, client.GrpcClientConn(), actors.Factory(deps), reg, logger)
	if err != nil {
		return err
	}
	// The sidecar's app channel is gRPC (actor calls come over the host's
	// stream); its health checks ask whether the database answers. The
	// readiness probe also wants the sidecar and the stream registered.
	dbCheck := platform.DatabaseCheck(pool)
	appServer := actorhost.NewAppServer(dbCheck, grpc.UnaryInterceptor(platform.AppTokenInterceptor(platform.AppToken())))
	checks := platform.Checks{"postgres": dbCheck, "dapr": platform.SidecarCheck(cfg.DaprHTTPPort),
		"actor_stream": func(context.Context) error {
			if !host.Ready() {
				return errors.New("actor callback stream not registered with the sidecar")
			}
			return nil
		}}
	mux := http.NewServeMux()
	mux.Handle("GET /health/live", platform.LiveHandler())
	mux.Handle("GET /health/ready", platform.ReadyHandler(checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: platform.WithGRPC(appServer, mux), ReadHeaderTimeout: 10 * time.Second}
	platform.EnableH2C(srv)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return relay.Run(gctx) })
	// The replica whose relay holds the lease purges old final rows.
	g.Go(func() error {
		return retention.Run(gctx, cfg.Retention, postgres.NewRetention(pool), relay.Leading, logger)
	})
	g.Go(func() error {
		platform.Heartbeat(gctx, postgres.NewOps(pool), "actors", cfg.DaprHTTPPort,
			func() map[string]int { return map[string]int{actors.TaskActorType: host.Active()} }, logger)
		return nil
	})
	g.Go(func() error { return host.Run(gctx) })
	g.Go(func() error {
		// The worker keeps a stream open to the sidecar and runs workflow and
		// activity work items until gctx is done.
		if err := wf.StartWorker(gctx, registry); err != nil {
			return fmt.Errorf("start workflow worker: %w", err)
		}
		<-gctx.Done()
		return nil
	})
	g.Go(func() error {
		logger.InfoContext(gctx, "actors app listening", "port", cfg.Port)
		return platform.ServeHTTP(gctx, srv, ln, 20*time.Second)
	})
	return g.Wait()
}

// registerWriteStats exports how task writes share transactions.
func registerWriteStats(reg prometheus.Registerer, store *postgres.Tasks) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "taskflow_db_task_writes_total",
			Help: "Task writes (each a statement with its outbox event)."},
			func() float64 { return float64(store.WriteStats().Statements) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "taskflow_db_write_transactions_total",
			Help: "Transactions the task writes shared (group commit)."},
			func() float64 { return float64(store.WriteStats().Transactions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "taskflow_db_task_writes_retried_total",
			Help: "Task writes run again on their own after their shared transaction failed."},
			func() float64 { return float64(store.WriteStats().Retried) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
