package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// Every write's outbox row keeps the trace context of the write's context
// (the actor's span), whatever else the statement carries (idempotency
// key, alarms), and NULL without one; the relay's Fetch returns it.
func TestOutboxKeepsTheWritersTraceparent(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	due := now.Add(time.Hour)
	tp := func(n byte) string {
		return "00-4bf92f3577b34da6a3ce929d0e0e47" + string([]byte{'0' + n/10, '0' + n%10}) + "-00f067aa0ba902b7-01"
	}
	traced := func(n byte) context.Context { return tracing.WithRemoteParent(context.Background(), tp(n)) }

	// With an idempotency key and alarms: both add parameters before the
	// outbox's.
	tk := newTask(t, "alice", task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptrTo("10m")}, now)
	plan, err := task.PlanAlarms(tk, nil, now, task.PastRefuse)
	if err != nil {
		t.Fatal(err)
	}
	tk.ReminderStatus = task.ReminderStatus(plan.Rows)
	idem := &task.IdempotencyKey{Key: "k1", RequestHash: []byte{1}}
	if _, err := store.Insert(traced(1), tk, task.NewEvent(task.EventCreated, tk, nil, "", now), idem, task.Extras{Alarms: plan.Rows}); err != nil {
		t.Fatal(err)
	}
	next, changed, _ := tk.Apply(task.Patch{Title: task.Some("y")}, now)
	if err := store.Update(traced(2), next, tk.Version, task.NewEvent(task.EventUpdated, next, changed, "", now), task.Extras{Alarms: plan.Rows}); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(traced(3), next.ID, next.Version, task.NewEvent(task.EventDeleted, next.Delete(now), nil, "", now), task.Extras{}); err != nil {
		t.Fatal(err)
	}
	plain := newTask(t, "alice", task.Draft{Title: "untraced"}, now)
	if _, err := store.Insert(context.Background(), plain, task.NewEvent(task.EventCreated, plain, nil, "", now), nil, task.Extras{}); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	lease, ok, err := postgres.NewOutbox(pool).TryLease(ctx, "test", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	defer lease.Release()
	msgs, err := lease.Fetch(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{tp(1), tp(2), tp(3), ""}
	if len(msgs) != len(want) {
		t.Fatalf("%d outbox rows, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if m.Traceparent != want[i] {
			t.Errorf("row %d traceparent %q, want %q", i, m.Traceparent, want[i])
		}
	}
	var nulls int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE traceparent IS NULL`).Scan(&nulls); err != nil || nulls != 1 {
		t.Fatalf("%d rows with a NULL traceparent (%v), want 1: no trace context is NULL, not ''", nulls, err)
	}
}
