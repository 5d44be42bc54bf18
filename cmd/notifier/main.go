// Command notifier delivers task events to users' browsers over Server-Sent
// Events.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/notifier"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

type config struct {
	Port           int
	DaprHTTPPort   int
	DatabaseURL    string
	Migrate        bool
	LogLevel       string
	PprofAddr      string
	PubSub         string
	AllowedOrigins []string
	KafkaBrokers   string
	Auth           auth.Config
	Notifier       notifier.Config
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:           env.Port("APP_PORT", 8081),
		DaprHTTPPort:   env.Port("DAPR_HTTP_PORT", 3502),
		DatabaseURL:    env.String("DATABASE_URL", postgres.DefaultURL),
		Migrate:        platform.MigrateOnStart(env),
		LogLevel:       env.String("LOG_LEVEL", "info"),
		PprofAddr:      env.String("PPROF_ADDR", ""),
		PubSub:         env.String("PUBSUB_NAME", "taskflow-pubsub-fanout"),
		AllowedOrigins: platform.Origins(env.String("NOTIFIER_ALLOWED_ORIGINS", "*")),
		KafkaBrokers:   env.String("KAFKA_BROKERS", ""),
		Auth:           platform.AuthConfig(env),
		Notifier: notifier.Config{
			Heartbeat:         env.Duration("NOTIFIER_HEARTBEAT", 30*time.Second, 100*time.Millisecond),
			MaxStreamsPerUser: env.Int("NOTIFIER_MAX_STREAMS_PER_USER", 3, 1, 1000),
			Rate:              float64(env.Int("NOTIFIER_RATE", 10, 1, 10_000)),
			QueueBound:        env.Int("NOTIFIER_QUEUE", 256, 1, 100_000),
			QueueBytes:        env.Int("NOTIFIER_QUEUE_BYTES", 1<<20, 4<<10, 1<<30),
			MaxStreams:        env.Int("NOTIFIER_MAX_STREAMS", 20_000, 1, 10_000_000),
			WriteTimeout:      env.Duration("NOTIFIER_WRITE_TIMEOUT", 10*time.Second, 10*time.Millisecond),
			Retention:         env.Duration("NOTIFIER_RETENTION", 24*time.Hour, time.Minute),
		},
	}
	return c, env.Err()
}

// brokers splits a comma-separated host:port list.
func brokers(list string) []string {
	var out []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func main() {
	platform.Main("notifier", loadConfig, func(c config) string { return c.LogLevel }, run)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	verifier, err := auth.New(ctx, cfg.Auth, logger)
	if err != nil {
		return err
	}
	defer verifier.Close()
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, "taskflow-notifier", 8, cfg.Migrate, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := platform.NewRegistry()
	// Messages that can never be stored go to the dead-letter topic, as the
	// auditor's do, through the component the notifier has.
	dlq := auditor.NewDaprDeadLetters(cfg.DaprHTTPPort, cfg.PubSub)
	tracer := tracing.Tracer()
	cfg.Notifier.Opening = func(h http.Handler) http.Handler {
		return platform.TraceHTTP(tracer, platform.CORS(cfg.AllowedOrigins, h))
	}
	n, err := notifier.New(cfg.Notifier, postgres.NewNotifications(pool), verifier, dlq, reg, logger)
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
		BulkSubscribe: &subscribe.Bulk{Enabled: true, MaxMessages: 100, MaxAwaitMs: 20},
	})))
	mux.Handle("POST /events/task-events", sidecarOnly(subscribe.BulkHandler(n.Handle, logger)))
	mux.Handle("GET /api/v1/notifications/stream", n) // traced and CORS while it opens (Opening above)
	mux.Handle("OPTIONS /api/v1/notifications/stream", platform.CORS(cfg.AllowedOrigins, http.NotFoundHandler()))
	mux.Handle("POST /api/v1/notifications/session", platform.TraceHTTP(tracer, n.SessionHandler()))

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "notifier listening", "port", cfg.Port)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		// Streams are long: many share one HTTP/2 connection (a browser on
		// TLS through an ingress, or an h2c upstream) instead of a socket each.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000}}
	platform.EnableH2C(srv)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { n.Purge(gctx, 10*time.Minute); return nil })
	if seeds := brokers(cfg.KafkaBrokers); len(seeds) > 0 {
		// Each instance reads the topic in a consumer group of its own,
		// "notifier-{uuid}", new at every start: delete those that earlier
		// instances left, at start and hourly.
		kc, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ClientID("taskflow-notifier-admin"))
		if err != nil {
			return fmt.Errorf("KAFKA_BROKERS: %w", err)
		}
		defer kc.Close()
		cleaner := notifier.NewGroupCleaner(kadm.NewClient(kc), "notifier-", time.Hour, logger)
		g.Go(func() error { cleaner.Run(gctx, time.Hour); return nil })
	} else {
		logger.InfoContext(ctx, "KAFKA_BROKERS is unset: consumer groups of earlier notifier instances are left to the broker's offset expiry")
	}
	g.Go(func() error {
		platform.Heartbeat(gctx, postgres.NewOps(pool), "notifier", cfg.DaprHTTPPort, nil, logger)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Streams end first, each with a "shutdown" event, then the server.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return n.Shutdown(sctx)
	})
	g.Go(func() error { return platform.ServeHTTP(gctx, srv, ln, 20*time.Second) })
	return g.Wait()
}
