package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/migrations"
	"github.com/taskflow/taskflow/postgres"
)

// MigrateOnStart reads DB_MIGRATE: whether OpenDatabase migrates the schema
// itself (true, the default: make run, docker compose) or leaves that to
// `taskflow migrate up` run with the owner's rights (false: on Kubernetes the
// Job taskflow-migrate does it, and the apps connect as roles that may not
// change the schema; k8s/README.md).
func MigrateOnStart(env *Env) bool { return env.Bool("DB_MIGRATE", true) }

// schemaWait is how long OpenDatabase without migrate waits for the
// migrations this binary embeds to be applied by someone else: within the
// apps' start-up budget on Kubernetes (3 minutes), where the migration Job
// and a rollout's pods start together.
const schemaWait = 2 * time.Minute

// OpenDatabase connects to databaseURL as application appName. With migrate,
// it creates the database if it does not exist yet and applies the schema
// migrations (under an advisory lock); without, it waits until they have been
// applied (up to schemaWait) and fails if they are not.
func OpenDatabase(ctx context.Context, databaseURL, appName string, maxConns int32, migrate bool, logger *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := postgres.Open(ctx, databaseURL, appName, maxConns)
	var pgErr *pgconn.PgError
	if migrate && errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
		logger.InfoContext(ctx, "creating the database")
		if cerr := postgres.EnsureDatabase(ctx, databaseURL); cerr != nil {
			return nil, cerr
		}
		pool, err = postgres.Open(ctx, databaseURL, appName, maxConns)
	}
	if err != nil {
		return nil, err
	}
	if !migrate {
		if err := waitForSchema(ctx, pool, logger); err != nil {
			pool.Close()
			return nil, err
		}
		return pool, nil
	}
	n, err := migrations.Up(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	if n > 0 {
		logger.InfoContext(ctx, "applied database migrations", "count", n)
	}
	return pool, nil
}

// waitForSchema polls until every embedded migration is applied.
func waitForSchema(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, schemaWait)
	defer cancel()
	logged := false
	for {
		pending, err := migrations.Pending(ctx, pool)
		if err == nil && len(pending) == 0 {
			return nil
		}
		if err == nil && !logged {
			logger.InfoContext(ctx, "waiting for the database migrations (DB_MIGRATE=false)", "pending", len(pending), "first", pending[0])
			logged = true
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("check database migrations: %w", err)
			}
			return fmt.Errorf("database schema lacks %d migration(s) from %d on and DB_MIGRATE is false: "+
				"run `taskflow migrate up` as the schema's owner (on Kubernetes: the Job taskflow-migrate)", len(pending), pending[0])
		case <-time.After(2 * time.Second):
		}
	}
}
