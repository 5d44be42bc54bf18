package migrations_test

import (
	"context"
	"slices"
	"testing"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/migrations"
)

// TestPending: what an app that does not migrate (DB_MIGRATE=false) waits
// for: nothing pending on a migrated database, the last migration after it
// is rolled back, nothing again once the Job has run.
func TestPending(t *testing.T) {
	ctx := context.Background()
	pool, _ := pgtest.NewPool(t) // migrated
	if p, err := migrations.Pending(ctx, pool); err != nil || len(p) != 0 {
		t.Fatalf("pending on a migrated database: %v %v", p, err)
	}
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	last := all[len(all)-1].Version
	if _, err := migrations.Down(ctx, pool, 1); err != nil {
		t.Fatal(err)
	}
	if p, err := migrations.Pending(ctx, pool); err != nil || !slices.Equal(p, []int{last}) {
		t.Fatalf("pending after one down: %v %v, want [%d]", p, err, last)
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if p, err := migrations.Pending(ctx, pool); err != nil || len(p) != 0 {
		t.Fatalf("pending after up: %v %v", p, err)
	}
}
