package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/migrations"
	"github.com/taskflow/taskflow/postgres"
)

// OpenDatabase connects to databaseURL as application appName, creating
// the database if it does not exist yet, and applies the schema migrations.
func OpenDatabase(ctx context.Context, databaseURL, appName string, maxConns int32, logger *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := postgres.Open(ctx, databaseURL, appName, maxConns)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
		logger.InfoContext(ctx, "creating the database")
		if cerr := postgres.EnsureDatabase(ctx, databaseURL); cerr != nil {
			return nil, cerr
		}
		pool, err = postgres.Open(ctx, databaseURL, appName, maxConns)
	}
	if err != nil {
		return nil, err
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
