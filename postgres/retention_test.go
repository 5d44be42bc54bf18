package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// The retention purge deletes final rows older than the cutoff and keeps
// pending ones, recent ones, and those a live task still relies on (a
// sent reminder it lists, the series of an existing task); tasks and the
// audit log are untouched.
func TestRetentionPurgesOldFinalRows(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := context.Background()
	store := postgres.NewTasks(pool)
	now := time.Now().UTC().Truncate(time.Second)
	old, recent := now.Add(-40*24*time.Hour), now.Add(-24*time.Hour)
	cutoff := now.Add(-30 * 24 * time.Hour)

	// A live task listing one reminder, and a deleted one (no task row).
	due := now.Add(30 * 24 * time.Hour)
	hour, day := "1 hour", "1 day"
	live := newTask(t, "alice", task.Draft{Title: "live", DueDate: &due,
		Reminders: []task.ReminderSpec{{Offset: &hour}, {Offset: &day}}}, now)
	if _, err := store.Insert(ctx, live, task.NewEvent(task.EventCreated, live, nil, "", now), nil, task.Extras{}); err != nil {
		t.Fatal(err)
	}
	listed, listedToo := live.Reminders[0].ID, live.Reminders[1].ID
	gone := uuid.Must(uuid.NewV7())

	type row struct {
		taskID  uuid.UUID
		id      uuid.UUID
		typ     string
		status  string
		updated time.Time
		keep    bool
	}
	reminder := func(taskID uuid.UUID, typ, status string, updated time.Time, keep bool) row {
		return row{taskID, uuid.Must(uuid.NewV7()), typ, status, updated, keep}
	}
	rows := map[string]row{
		"sent, listed by its task":          {live.ID, listed, task.AlarmOffset, task.AlarmSent, old, true},
		"sent, no longer listed":            reminder(live.ID, task.AlarmAbsolute, task.AlarmSent, old, false),
		"sent overdue notice":               {live.ID, task.OverdueID(live.ID), task.AlarmOverdue, task.AlarmSent, old, false},
		"cancelled":                         reminder(live.ID, task.AlarmAbsolute, task.AlarmCancelled, old, false),
		"sent, task deleted":                reminder(gone, task.AlarmOffset, task.AlarmSent, old, false),
		"cancelled, task deleted":           reminder(gone, task.AlarmOverdue, task.AlarmCancelled, old, false),
		"pending for long":                  reminder(live.ID, task.AlarmAbsolute, task.AlarmPending, old, true),
		"sent recently, no longer listed":   reminder(live.ID, task.AlarmAbsolute, task.AlarmSent, recent, true),
		"cancelled recently, task deleted":  reminder(gone, task.AlarmAbsolute, task.AlarmCancelled, recent, true),
		"pending for long, task deleted":    reminder(gone, task.AlarmAbsolute, task.AlarmPending, old, true),
		"sent just after the cutoff":        reminder(gone, task.AlarmAbsolute, task.AlarmSent, cutoff.Add(time.Second), true),
		"sent just before the cutoff":       reminder(gone, task.AlarmAbsolute, task.AlarmSent, cutoff.Add(-time.Second), false),
		"cancelled, listed by its task too": {live.ID, listedToo, task.AlarmOffset, task.AlarmCancelled, old, false},
	}
	for _, r := range rows {
		exec(t, pool, `INSERT INTO reminder_schedule (reminder_id, task_id, user_id, trigger_at, reminder_type, status, created_at, updated_at)
			VALUES ($1, $2, 'alice', $3, $4, $5, $3, $3)
			ON CONFLICT (reminder_id) DO UPDATE SET status = $5, updated_at = $3`, r.id, r.taskID, r.updated, r.typ, r.status)
	}

	series := map[string]struct {
		taskID  uuid.UUID
		updated time.Time
		keep    bool
	}{
		"ended, task exists":        {live.ID, old, true},
		"ended, task deleted":       {uuid.Must(uuid.NewV7()), old, false},
		"ended recently, deleted":   {uuid.Must(uuid.NewV7()), recent, true},
		"never ended, task deleted": {uuid.Must(uuid.NewV7()), old, false},
	}
	for name, s := range series {
		var ended *time.Time
		if name != "never ended, task deleted" {
			ended = &s.updated
		}
		exec(t, pool, `INSERT INTO recurring_series (task_id, user_id, ended_at, updated_at) VALUES ($1, 'alice', $2, $3)`,
			s.taskID, ended, s.updated)
	}

	ops := map[string]struct {
		id      uuid.UUID
		status  string
		updated time.Time
		keep    bool
	}{
		"completed long ago": {uuid.Must(uuid.NewV7()), "completed", old, false},
		"failed long ago":    {uuid.Must(uuid.NewV7()), "failed", old, false},
		"running for long":   {uuid.Must(uuid.NewV7()), "running", old, true},
		"pending for long":   {uuid.Must(uuid.NewV7()), "pending", old, true},
		"completed recently": {uuid.Must(uuid.NewV7()), "completed", recent, true},
	}
	for _, o := range ops {
		exec(t, pool, `INSERT INTO operations (id, user_id, kind, task_id, status, request, created_at, updated_at)
			VALUES ($1, 'alice', 'series.delete', $2, $3, '{}', $4, $4)`, o.id, live.ID, o.status, o.updated)
		for range 3 {
			exec(t, pool, `INSERT INTO operation_items (operation_id, task_id, outcome, applied_at) VALUES ($1, $2, 'deleted', $3)`,
				o.id, uuid.Must(uuid.NewV7()), o.updated)
		}
	}
	tasksBefore, eventsBefore := count(t, pool, `SELECT count(*) FROM tasks`), count(t, pool, `SELECT count(*) FROM task_events`)

	got, err := postgres.NewRetention(pool).Purge(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}

	want := postgres.Purged{}
	for name, r := range rows {
		exists := count(t, pool, `SELECT count(*) FROM reminder_schedule WHERE reminder_id = $1`, r.id) == 1
		if exists != r.keep {
			t.Errorf("reminder %q: kept = %v, want %v", name, exists, r.keep)
		}
		if !r.keep {
			want.Reminders++
		}
	}
	for name, s := range series {
		exists := count(t, pool, `SELECT count(*) FROM recurring_series WHERE task_id = $1`, s.taskID) == 1
		if exists != s.keep {
			t.Errorf("series %q: kept = %v, want %v", name, exists, s.keep)
		}
		if !s.keep {
			want.Series++
		}
	}
	for name, o := range ops {
		exists := count(t, pool, `SELECT count(*) FROM operations WHERE id = $1`, o.id) == 1
		items := count(t, pool, `SELECT count(*) FROM operation_items WHERE operation_id = $1`, o.id)
		if exists != o.keep || (o.keep && items != 3) || (!o.keep && items != 0) {
			t.Errorf("operation %q: kept = %v with %d items, want %v", name, exists, items, o.keep)
		}
		if !o.keep {
			want.Operations++
		}
	}
	if got != want {
		t.Errorf("Purge = %+v, want %+v", got, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM tasks`); n != tasksBefore {
		t.Errorf("tasks: %d rows, want %d (user data is never purged)", n, tasksBefore)
	}
	if n := count(t, pool, `SELECT count(*) FROM task_events`); n != eventsBefore {
		t.Errorf("task_events: %d rows, want %d (the audit log is never purged)", n, eventsBefore)
	}

	// The purge is idempotent: a second run (another replica) finds nothing.
	if again, err := postgres.NewRetention(pool).Purge(ctx, cutoff); err != nil || again.Total() != 0 {
		t.Errorf("second Purge = %+v, %v; want nothing", again, err)
	}
}

// A purge goes batch by batch until nothing old is left.
func TestRetentionPurgesInBatches(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	exec(t, pool, `INSERT INTO reminder_schedule (reminder_id, task_id, user_id, trigger_at, reminder_type, status, updated_at)
		SELECT gen_random_uuid(), gen_random_uuid(), 'bob', now(), 'absolute', 'sent', now() - interval '40 days'
		FROM generate_series(1, 12001)`)
	exec(t, pool, `INSERT INTO operations (id, user_id, kind, task_id, status, request, updated_at)
		SELECT gen_random_uuid(), 'bob', 'series.update', gen_random_uuid(), 'completed', '{}', now() - interval '40 days'
		FROM generate_series(1, 250)`)
	got, err := postgres.NewRetention(pool).Purge(context.Background(), time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.Reminders != 12001 || got.Operations != 250 {
		t.Errorf("Purge = %+v, want 12001 reminders and 250 operations", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM reminder_schedule`) + count(t, pool, `SELECT count(*) FROM operations`); n != 0 {
		t.Errorf("%d rows left", n)
	}
}

func exec(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func count(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}
