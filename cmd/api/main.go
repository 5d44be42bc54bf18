// Command api serves TaskFlow's public REST API.
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

	"github.com/taskflow/taskflow/actors"
	"github.com/taskflow/taskflow/api"
	"github.com/taskflow/taskflow/auth"
	"github.com/taskflow/taskflow/internal/brokerlag"
	"github.com/taskflow/taskflow/internal/platform"
	"github.com/taskflow/taskflow/mcptools"
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
	LogLevel     string
	PprofAddr    string
	Auth         auth.Config
	API          api.Config
	AdminRole    string
	KafkaBrokers string
	AuditURL     string
}

func loadConfig(env *platform.Env) (config, error) {
	c := config{
		Port:         env.Port("APP_PORT", 8080),
		DaprHTTPPort: env.Port("DAPR_HTTP_PORT", 3500),
		DaprGRPCPort: env.Port("DAPR_GRPC_PORT", 50001),
		DatabaseURL:  env.String("DATABASE_URL", postgres.DefaultURL),
		Migrate:      platform.MigrateOnStart(env),
		DBMaxConns:   env.Int("DB_MAX_CONNS", 16, 1, 1000),
		LogLevel:     env.String("LOG_LEVEL", "info"),
		PprofAddr:    env.String("PPROF_ADDR", ""),
		Auth:         platform.AuthConfig(env),
		// Tokens whose roles claim (JWT_ROLES_CLAIM) holds this role open
		// the ops view (/ops, /api/v1/ops).
		AdminRole:    env.String("ADMIN_ROLE", api.DefaultAdminRole),
		KafkaBrokers: env.String("KAFKA_BROKERS", ""),
		// The auditor's base URL, where the MCP tool task_history reads.
		AuditURL: env.String("AUDIT_URL", "http://localhost:8082"),
		API: api.Config{
			BodyLimit:   env.Int("API_BODY_LIMIT", 64<<10, 1<<10, 16<<20),
			CallTimeout: env.Duration("API_CALL_TIMEOUT", 15*time.Second, 100*time.Millisecond),
			// Per user: writes a second sustained, and at once; 0 turns it off.
			WriteLimit: writeLimit(env.Int("API_WRITE_RATE", int(api.DefaultWriteLimit.Rate), 0, 100_000),
				env.Int("API_WRITE_BURST", api.DefaultWriteLimit.Burst, 1, 1_000_000)),
			Limits: task.Limits{MinRecurrenceInterval: env.Duration("RECURRENCE_MIN_INTERVAL", time.Minute, time.Second)},
			// Where the web app finds the notifier and the auditor: unset
			// when an Ingress serves them on this origin.
			Web: api.WebConfig{NotificationsURL: env.String("WEB_NOTIFICATIONS_URL", ""), AuditURL: env.String("WEB_AUDIT_URL", "")},
			// Local runs and tests only: webhook URLs may name loopback
			// and private addresses (the auditor must allow them too).
			WebhookAllowPrivate: env.Bool("WEBHOOK_ALLOW_PRIVATE", false),
		},
	}
	return c, env.Err()
}

func main() {
	platform.Main("api", loadConfig, func(c config) string { return c.LogLevel }, run)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	platform.ServePprof(ctx, cfg.PprofAddr, logger)
	verifier, err := auth.New(ctx, cfg.Auth, logger)
	if err != nil {
		return err
	}
	defer verifier.Close()
	pool, err := platform.OpenDatabase(ctx, cfg.DatabaseURL, "taskflow-api", int32(cfg.DBMaxConns), cfg.Migrate, logger)
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
	actorClient := actors.NewClient(client)
	ops := &api.OpsDeps{Store: postgres.NewOps(pool), Operations: postgres.NewOperations(pool), Control: actorClient,
		Outbox: postgres.NewOutbox(pool), Scheduler: actorClient, AdminRole: cfg.AdminRole}
	if cfg.KafkaBrokers != "" {
		lags, err := brokerlag.New(cfg.KafkaBrokers)
		if err != nil {
			return fmt.Errorf("KAFKA_BROKERS: %w", err)
		}
		defer lags.Close()
		ops.Consumers = lags
	}
	checks := platform.Checks{"postgres": platform.DatabaseCheck(pool), "dapr": platform.SidecarCheck(cfg.DaprHTTPPort)}
	app, err := api.New(cfg.API, api.Deps{
		Writer:     actorClient,
		Reader:     postgres.NewTasks(pool),
		Operations: postgres.NewOperations(pool),
		Verifier:   verifier,
		Registry:   reg,
		Extra: map[string]http.Handler{
			"/health/live":  platform.LiveHandler(),
			"/health/ready": platform.ReadyHandler(checks),
			"/metrics":      promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		},
		DevTokenSecret: devSecret(cfg.Auth),
		Ops:            ops,
		Calendars:      postgres.NewCalendarFeeds(pool),
		// The MCP tools call this API (and the auditor's history) with the
		// caller's own token, so agents get the very same checks.
		MCP: mcptools.Handler(mcptools.NewServer(&mcptools.Backend{
			APIURL: "http://127.0.0.1:" + strconv.Itoa(cfg.Port), AuditURL: cfg.AuditURL,
		}, mcptools.HeaderCredentials)),
		Webhooks: postgres.NewWebhooks(pool),
	}, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "api listening", "port", cfg.Port)
	beat, stopBeat := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		platform.Heartbeat(beat, postgres.NewOps(pool), "api", cfg.DaprHTTPPort, nil, logger)
	}()
	defer func() { stopBeat(); <-beating }()
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := app.ShutdownWithTimeout(20 * time.Second); err != nil {
		return err
	}
	return <-errc
}

// devSecret enables development token minting only while the API runs on
// the public development secret (no JWT_SECRET and no JWKS_URL set).
func devSecret(c auth.Config) []byte {
	if c.JWKSURL == "" && string(c.Secret) == auth.DevSecret {
		return c.Secret
	}
	return nil
}

// writeLimit turns API_WRITE_RATE=0 into "no limit".
func writeLimit(perSecond, burst int) api.WriteLimit {
	if perSecond == 0 {
		return api.WriteLimit{Rate: -1}
	}
	return api.WriteLimit{Rate: float64(perSecond), Burst: burst}
}
