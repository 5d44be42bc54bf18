package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskflow/taskflow/internal/pgtest"

	"github.com/taskflow/taskflow/postgres"
)

// postgresURL names dbName on the test server (see pgtest.ServerURL).
func postgresURL(dbName string) string {
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + dbName
	return u.String()
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("taskflow-ensure-test-%d", time.Now().UnixNano()) // the dashes need quoting
	url := postgresURL(name)

	admin, err := pgx.Connect(ctx, postgresURL("postgres"))
	if err != nil {
		t.Fatalf("PostgreSQL needed on %s: %v", postgresURL("postgres"), err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		admin.Close(context.Background())
	})

	// Twice, and concurrently: creating must be idempotent.
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- postgres.EnsureDatabase(ctx, url) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("EnsureDatabase: %v", err)
		}
	}
	if err := postgres.EnsureDatabase(ctx, url); err != nil {
		t.Fatalf("EnsureDatabase on an existing database: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the created database: %v", err)
	}
	conn.Close(ctx)

	if err := postgres.EnsureDatabase(ctx, postgresURL("")); err == nil {
		t.Error("EnsureDatabase accepted a URL without a database")
	}
}
