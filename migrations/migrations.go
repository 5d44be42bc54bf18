// Package migrations holds TaskFlow's PostgreSQL schema as embedded SQL
// files (NNNN_name.up.sql with a matching NNNN_name.down.sql) and applies
// them. Every app runs Up at start-up unless DB_MIGRATE=false (then
// `taskflow migrate up` does, and the apps wait for Pending to be empty); an
// advisory lock makes concurrent starts safe, and each migration commits in
// its own transaction.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed *.sql
var files embed.FS

// lockKey is the pg_advisory_lock key that serialises migration runs.
const lockKey = 7_283_346_001

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// All returns the embedded migrations in version order. It fails if a
// migration lacks its down file or versions repeat.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		name := e.Name()
		var dir string
		switch {
		case strings.HasSuffix(name, ".up.sql"):
			dir = "up"
		case strings.HasSuffix(name, ".down.sql"):
			dir = "down"
		default:
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".sql"), "."+dir)
		num, label, ok := strings.Cut(base, "_")
		v, convErr := strconv.Atoi(num)
		if !ok || convErr != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.up.sql or .down.sql", name)
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v, Name: label}
			byVersion[v] = m
		}
		if m.Name != label {
			return nil, fmt.Errorf("migration %d has two names: %q and %q", v, m.Name, label)
		}
		if dir == "up" {
			m.Up = string(body)
		} else {
			m.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Up applies every migration not yet applied and returns how many it applied.
func Up(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	all, err := All()
	if err != nil {
		return 0, err
	}
	applied := 0
	err = withLock(ctx, pool, func(conn *pgx.Conn) error {
		done, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for _, m := range all {
			if done[m.Version] {
				continue
			}
			if err := run(ctx, conn, m.Up, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("apply migration %d_%s: %w", m.Version, m.Name, err)
			}
			applied++
		}
		return nil
	})
	return applied, err
}

// Down reverts the newest steps applied migrations (all of them when steps
// is 0 or more than applied) and returns how many it reverted.
func Down(ctx context.Context, pool *pgxpool.Pool, steps int) (int, error) {
	all, err := All()
	if err != nil {
		return 0, err
	}
	reverted := 0
	err = withLock(ctx, pool, func(conn *pgx.Conn) error {
		done, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for i := len(all) - 1; i >= 0; i-- {
			m := all[i]
			if !done[m.Version] {
				continue
			}
			if steps > 0 && reverted == steps {
				break
			}
			if err := run(ctx, conn, m.Down, `DELETE FROM schema_migrations WHERE version = $1`, m.Version); err != nil {
				return fmt.Errorf("revert migration %d_%s: %w", m.Version, m.Name, err)
			}
			reverted++
		}
		return nil
	})
	return reverted, err
}

// Applied lists the versions applied to the database, ascending.
func Applied(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	var out []int
	err := withLock(ctx, pool, func(conn *pgx.Conn) error {
		done, err := appliedVersions(ctx, conn)
		for v := range done {
			out = append(out, v)
		}
		return err
	})
	sort.Ints(out)
	return out, err
}

// Pending returns the versions of the embedded migrations the database has
// not applied, ascending. It only reads schema_migrations (no lock, no DDL),
// so a role without rights on the schema may call it; without that table
// every migration is pending.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	done, err := appliedVersions(ctx, conn.Conn())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		done, err = map[int]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, m := range all {
		if !done[m.Version] {
			out = append(out, m.Version)
		}
	}
	return out, nil
}

func withLock(ctx context.Context, pool *pgxpool.Pool, fn func(*pgx.Conn) error) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection for migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx is done.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey); uerr != nil {
			err = errors.Join(err, fmt.Errorf("release migration lock: %w", uerr))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return fn(conn.Conn())
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[int(v)] = true
	}
	return done, nil
}

func run(ctx context.Context, conn *pgx.Conn, script, record string, args ...any) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, script); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, record, args...)
		return err
	})
}
