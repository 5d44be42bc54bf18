// Command auditor writes the immutable audit log of task events and serves it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

type config struct {
	Port            int
	DaprHTTPPort    int
	DatabaseURL     string
	Migrate         bool
	LogLevel        string
	PprofAddr       string
	PubSub          string
	Auth            auth.Config
	Auditor         auditor.Config
	WriterRole      string
	PartitionMonths int
	AllowedOrigins  []string
	Webhooks        webhook.Config
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:         env.Port("APP_PORT", 8082),
		DaprHTTPPort: env.Port("DAPR_HTTP_PORT", 3503),
		DatabaseURL:  env.String("DATABASE_URL", postgres.DefaultURL),
		Migrate:      platform.MigrateOnStart(env),
		LogLevel:     env.String("LOG_LEVEL", "info"),
		PprofAddr:    env.String("PPROF_ADDR", ""),
		PubSub:       env.String("PUBSUB_NAME", "taskflow-pubsub"),
		Auth:         platform.AuthConfig(env),
		// Pages of these origins may read the audit API from the browser.
		AllowedOrigins: platform.Origins(env.String("AUDIT_ALLOWED_ORIGINS", "*")),
		Auditor: auditor.Config{
			BatchSize:    env.Int("AUDIT_BATCH_SIZE", auditor.DefaultConfig.BatchSize, 1, 1000),
			BatchWait:    env.Duration("AUDIT_BATCH_WAIT", auditor.DefaultConfig.BatchWait, time.Millisecond),
			WriteTimeout: auditor.DefaultConfig.WriteTimeout,
		},
		WriterRole:      env.String("AUDIT_DB_ROLE", postgres.AuditWriterRole),
		PartitionMonths: env.Int("AUDIT_PARTITION_MONTHS", 3, 2, 36),
		// Outgoing webhooks: their deliveries are enqueued with the audit
		// writes and sent from here.
		Webhooks: webhook.Config{
			Policy: webhook.Policy{
				RetryBase:   env.Duration("WEBHOOK_RETRY_BASE", webhook.DefaultPolicy.RetryBase, time.Millisecond),
				RetryMax:    env.Duration("WEBHOOK_RETRY_MAX", webhook.DefaultPolicy.RetryMax, time.Millisecond),
				MaxFailures: env.Int("WEBHOOK_MAX_FAILURES", webhook.DefaultPolicy.MaxFailures, 1, 1000),
			},
			Timeout:      env.Duration("WEBHOOK_TIMEOUT", webhook.DefaultConfig.Timeout, time.Millisecond),
			Concurrency:  env.Int("WEBHOOK_CONCURRENCY", webhook.DefaultConfig.Concurrency, 1, 1000),
			PollInterval: env.Duration("WEBHOOK_POLL_INTERVAL", webhook.DefaultConfig.PollInterval, 10*time.Millisecond),
			AllowPrivate: env.Bool("WEBHOOK_ALLOW_PRIVATE", false),
			Retention:    time.Duration(env.Int("RETENTION_DAYS", 30, 1, 3650)) * 24 * time.Hour,
		},
	}
	if err := c.Webhooks.Validate(); err != nil {
		env.Fail(err)
	}
	return c, env.Err()
}

func main() {
	platform.Main("auditor", loadConfig, func(c config) string { return c.LogLevel }, run)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	verifier, err := auth.New(ctx, cfg.Auth, logger)
	if err != nil {
		return err
	}
	defer verifier.Close()
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, "taskflow-auditor", 8, cfg.Migrate, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.NewAudit(pool)
	if cfg.WriterRole != "none" {
		// Appending as the role keeps UPDATE, DELETE and TRUNCATE out of
		// this app's reach even when its database user owns the table.
		if err := store.WriteAs(ctx, cfg.WriterRole); err != nil {
			return fmt.Errorf("AUDIT_DB_ROLE: %w (the migration makes the role when its user may create roles; "+
				"otherwise grant this app's user only SELECT and INSERT on task_events and set AUDIT_DB_ROLE=none)", err)
		}
	} else {
		logger.WarnContext(ctx, "AUDIT_DB_ROLE=none: appending to the audit log as the database user itself")
	}
	reg := platform.NewRegistry()
	webhooks, err := webhook.New(cfg.Webhooks, postgres.NewWebhooks(pool), reg, logger)
	if err != nil {
		return err
	}
	// Each audit write enqueues the webhook deliveries of its new events
	// in its own transaction, and wakes the dispatcher.
	store.EnqueueWebhooks(webhooks.Kick)
	aud, err := auditor.New(cfg.Auditor, store, auditor.NewDaprDeadLetters(cfg.DaprHTTPPort, cfg.PubSub), reg, logger)
	if err != nil {
		return err
	}
	ops := postgres.NewOps(pool)
	inbox, err := auditor.NewInbox(ops, reg, logger)
	if err != nil {
		return err
	}
	checks := platform.Checks{"postgres": platform.DatabaseCheck(pool), "dapr": platform.SidecarCheck(cfg.DaprHTTPPort)}
	mux := http.NewServeMux()
	mux.Handle("GET /health/live", platform.LiveHandler())
	mux.Handle("GET /health/ready", platform.ReadyHandler(checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Only the sidecar calls /dapr/* and /events/* (APP_API_TOKEN).
	sidecarOnly := func(h http.Handler) http.Handler { return platform.RequireAppToken(platform.AppToken(), h) }
	mux.Handle("GET /dapr/subscribe", sidecarOnly(subscribe.ListHandler(subscribe.Subscription{
		PubsubName: cfg.PubSub, Topic: task.Topic, Route: "/events/task-events", Metadata: subscribe.RawPayload,
		BulkSubscribe: &subscribe.Bulk{Enabled: true, MaxMessages: cfg.Auditor.BatchSize,
			MaxAwaitMs: max(1, int(cfg.Auditor.BatchWait/time.Millisecond))},
	}, inbox.Subscription(cfg.PubSub, "/events/task-events-dlq"))))
	mux.Handle("POST /events/task-events-dlq", sidecarOnly(inbox))
	mux.Handle("POST /events/task-events", sidecarOnly(subscribe.BulkHandler(aud.Handle, logger, subscribe.OnUndecodable(aud.Undecodable))))
	mux.Handle("/api/v1/audit/", platform.TraceHTTP(tracing.Tracer(),
		platform.CORS(cfg.AllowedOrigins, auditor.QueryHandler(store, verifier, logger))))

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "auditor listening", "port", cfg.Port,
		"batch_size", cfg.Auditor.BatchSize, "batch_wait", cfg.Auditor.BatchWait.String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	// The writer outlives the server: deliveries in flight at shutdown are
	// written and answered while it drains, then Close flushes the last
	// batch and Run returns.
	g.Go(func() error { aud.Run(context.WithoutCancel(gctx)); return nil })
	g.Go(func() error { inbox.Run(gctx, 5*time.Second); return nil })
	g.Go(func() error { webhooks.Run(gctx); return nil })
	g.Go(func() error { keepPartitions(gctx, store, cfg.PartitionMonths, logger); return nil })
	g.Go(func() error { platform.Heartbeat(gctx, ops, "auditor", cfg.DaprHTTPPort, nil, logger); return nil })
	g.Go(func() error {
		defer aud.Close()
		return platform.ServeHTTP(gctx, srv, ln, 20*time.Second)
	})
	return g.Wait()
}

// keepPartitions creates the audit log's monthly partitions for this month
// and the next ones, at start and then daily (so a month's partition
// exists weeks before its first event).
func keepPartitions(ctx context.Context, store *postgres.Audit, months int, logger *slog.Logger) {
	for {
		n, err := store.EnsurePartitions(ctx, time.Now(), months)
		switch {
		case err != nil && ctx.Err() == nil:
			// Nothing is lost meanwhile: events without a partition land in
			// the default one and move when their month's partition comes.
			logger.ErrorContext(ctx, "cannot create the audit log's partitions; retrying in a minute", "error", err)
		case n > 0:
			logger.InfoContext(ctx, "created audit log partitions", "count", n, "months_ahead", months)
		}
		wait := 24 * time.Hour
		if err != nil {
			wait = time.Minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
