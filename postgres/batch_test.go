package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// TestGroupCommit writes many tasks at once: they share transactions, each
// caller hears of its own write only, and a write PostgreSQL refuses (a
// second instance of one occurrence) fails alone while the others commit.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	series := uuid.Must(uuid.NewV7())
	occ := now.Add(time.Hour)

	const n = 96
	start := make(chan struct{})
	errs := make([]error, n)
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := task.Draft{Title: fmt.Sprintf("t%d", i)}
			if i%32 == 0 { // three instances of one occurrence: one may exist
				d.DueDate = &occ
			}
			tk := newTask(t, "alice", d, now)
			if i%32 == 0 {
				tk.ParentRecurringTaskID, tk.OccurrenceDate = &series, &occ
			}
			ids[i] = tk.ID
			<-start
			_, errs[i] = store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{})
		})
	}
	close(start)
	wg.Wait()

	var dup, ok int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if _, err := store.Get(ctx, ids[i]); err != nil {
				t.Errorf("acknowledged task %d not stored: %v", i, err)
			}
		case i%32 == 0 && errors.Is(err, task.ErrDuplicateInstance):
			dup++
		default:
			t.Errorf("insert %d: %v", i, err)
		}
	}
	if ok != n-2 || dup != 2 {
		t.Fatalf("%d stored and %d refused, want %d and 2", ok, dup, n-2)
	}
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&events); err != nil || events != n-2 {
		t.Fatalf("%d outbox events (%v), want %d", events, err, n-2)
	}
	st := store.WriteStats()
	if st.Statements != n || st.Transactions >= n {
		t.Fatalf("stats %+v: %d writes should have shared transactions", st, n)
	}
	t.Logf("%d writes in %d transactions, %d run again alone", st.Statements, st.Transactions, st.Retried)
}
