package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/migrations"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

func newTask(tb testing.TB, user string, d task.Draft, at time.Time) task.Task {
	tb.Helper()
	t, err := task.New(uuid.Must(uuid.NewV7()), user, d, at)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func outboxRows(tb testing.TB, pool *pgxpool.Pool, taskID uuid.UUID) []task.Event {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT payload::text FROM outbox WHERE task_id = $1 ORDER BY id`, taskID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []task.Event
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			tb.Fatal(err)
		}
		ev, err := task.ParseCloudEvent([]byte(p))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestTaskLifecycleWritesOutbox(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	due := now.Add(24 * time.Hour)

	tk := newTask(t, "alice", task.Draft{Title: "Write report", Tags: []string{"work"}, DueDate: &due}, now)
	if replay, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "c1", now), nil, task.Extras{}); err != nil || replay != nil {
		t.Fatalf("Insert = %v, %v", replay, err)
	}
	got, err := store.Get(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != tk.Title || !got.DueDate.Equal(due) || got.Version != 1 || !slices.Equal(got.Tags, []string{"work"}) {
		t.Fatalf("Get = %+v", got)
	}
	if _, err := store.GetForUser(ctx, "mallory", tk.ID); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("GetForUser(other) = %v, want ErrNotFound", err)
	}

	next, changed, err := got.Apply(task.Patch{Title: task.Some("Write the report")}, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, next, got.Version, task.NewEvent(task.EventUpdated, next, changed, "c2", now), task.Extras{}); err != nil {
		t.Fatal(err)
	}
	// A stale writer changes nothing and learns so.
	stale, _, _ := got.Apply(task.Patch{Title: task.Some("lost update")}, now)
	if err := store.Update(ctx, stale, got.Version, task.NewEvent(task.EventUpdated, stale, nil, "c3", now), task.Extras{}); !errors.Is(err, task.ErrConflict) {
		t.Fatalf("stale Update = %v, want ErrConflict", err)
	}
	done, changed, _ := next.Complete(now.Add(2 * time.Second))
	if err := store.Update(ctx, done, next.Version, task.NewEvent(task.EventCompleted, done, changed, "c4", now), task.Extras{}); err != nil {
		t.Fatal(err)
	}
	gone := done.Delete(now.Add(3 * time.Second))
	if err := store.Delete(ctx, tk.ID, 2, task.NewEvent(task.EventDeleted, gone, nil, "c5", now), task.Extras{}); !errors.Is(err, task.ErrConflict) {
		t.Fatalf("Delete at stale version = %v", err)
	}
	if err := store.Delete(ctx, tk.ID, done.Version, task.NewEvent(task.EventDeleted, gone, nil, "c5", now), task.Extras{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, tk.ID); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("Get after delete = %v", err)
	}

	evs := outboxRows(t, pool, tk.ID)
	var types []task.EventType
	var versions []int64
	for _, ev := range evs {
		types = append(types, ev.EventType)
		versions = append(versions, ev.Version)
	}
	if !slices.Equal(types, []task.EventType{task.EventCreated, task.EventUpdated, task.EventCompleted, task.EventDeleted}) ||
		!slices.Equal(versions, []int64{1, 2, 3, 4}) {
		t.Fatalf("outbox = %v %v", types, versions)
	}
	if evs[1].CorrelationID != "c2" || !slices.Equal(evs[1].ChangedFields, []string{"title"}) {
		t.Fatalf("update event = %+v", evs[1])
	}
}

func TestInsertIdempotency(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now().UTC()
	key := task.IdempotencyKey{Key: "k-1", RequestHash: []byte("hash-a")}

	first := newTask(t, "alice", task.Draft{Title: "Once"}, now)
	if replay, err := store.Insert(ctx, first, task.NewEvent(task.EventCreated, first, nil, "", now), &key, task.Extras{}); err != nil || replay != nil {
		t.Fatalf("first Insert = %v, %v", replay, err)
	}
	// A retry that raced past the API's lookup, with a fresh id.
	retry := newTask(t, "alice", task.Draft{Title: "Once"}, now)
	replay, err := store.Insert(ctx, retry, task.NewEvent(task.EventCreated, retry, nil, "", now), &key, task.Extras{})
	if err != nil || replay == nil || replay.ID != first.ID {
		t.Fatalf("retry Insert = %+v, %v; want replay of %s", replay, err, first.ID)
	}
	if _, err := store.Get(ctx, retry.ID); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("retry created a second task: %v", err)
	}
	if n := len(outboxRows(t, pool, retry.ID)); n != 0 {
		t.Fatalf("retry enqueued %d events", n)
	}
	other := task.IdempotencyKey{Key: "k-1", RequestHash: []byte("hash-b")}
	if _, err := store.Insert(ctx, retry, task.NewEvent(task.EventCreated, retry, nil, "", now), &other, task.Extras{}); !errors.Is(err, task.ErrIdempotencyMismatch) {
		t.Fatalf("different body = %v, want ErrIdempotencyMismatch", err)
	}
	// Keys are per user.
	bobs := newTask(t, "bob", task.Draft{Title: "Mine"}, now)
	if replay, err := store.Insert(ctx, bobs, task.NewEvent(task.EventCreated, bobs, nil, "", now), &key, task.Extras{}); err != nil || replay != nil {
		t.Fatalf("bob's Insert with alice's key = %v, %v", replay, err)
	}
	replay, found, err := store.LookupIdempotency(ctx, "alice", key)
	if err != nil || !found || replay.ID != first.ID {
		t.Fatalf("LookupIdempotency = %v %v %v", replay, found, err)
	}
	if _, found, err := store.LookupIdempotency(ctx, "alice", task.IdempotencyKey{Key: "unused"}); found || err != nil {
		t.Fatalf("unused key: found=%v err=%v", found, err)
	}
}

func TestSchemaConstraints(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := context.Background()
	tests := []struct {
		name, sql, constraint string
	}{
		{"recurrence requires due date", `INSERT INTO tasks (id, user_id, title, recurrence_pattern) VALUES (gen_random_uuid(), 'u', 't', 'daily:')`, "chk_recurrence_requires_due_date"},
		{"reminder requires due date", `INSERT INTO tasks (id, user_id, title, reminder_offset) VALUES (gen_random_uuid(), 'u', 't', '1 hour')`, "chk_reminder_requires_due_date"},
		{"priority", `INSERT INTO tasks (id, user_id, title, priority) VALUES (gen_random_uuid(), 'u', 't', 'urgent')`, "chk_priority"},
		{"empty title", `INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), 'u', '')`, "chk_title_length"},
		{"one instance per occurrence", `INSERT INTO tasks (id, user_id, title, due_date, parent_recurring_task_id, occurrence_date)
			SELECT gen_random_uuid(), 'u', 't', '2026-01-01Z', '0190f1f0-0000-7000-8000-000000000001', '2026-01-01Z' FROM generate_series(1, 2)`, "uniq_recurring_instance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != tt.constraint {
				t.Fatalf("err = %v, want violation of %s", err, tt.constraint)
			}
		})
	}
}

func TestTaskEventsPartitionedByMonth(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'task_events'::regclass ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Bound string }])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var want []string
	for i := range 3 {
		want = append(want, now.AddDate(0, i, 1-now.Day()).Format("task_events_2006_01"))
	}
	want = append(want, "task_events_default")
	var got []string
	for _, p := range parts {
		got = append(got, p.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	// An event lands in its month's partition; creating the months again is a no-op.
	if _, err := pool.Exec(ctx, `INSERT INTO task_events (event_id, event_type, task_id, user_id, occurred_at, version, payload, partition_key)
		VALUES (gen_random_uuid(), 'task.created', gen_random_uuid(), 'u', now(), 1, '{}', 'k')`); err != nil {
		t.Fatal(err)
	}
	var where string
	if err := pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM task_events`).Scan(&where); err != nil || where != want[0] {
		t.Fatalf("event stored in %q (%v), want %s", where, err, want[0])
	}
	var created int
	if err := pool.QueryRow(ctx, `SELECT taskflow_ensure_event_partitions(now(), 3)`).Scan(&created); err != nil || created != 0 {
		t.Fatalf("second run created %d (%v)", created, err)
	}
}

func TestMigrationsDownAndUpAgain(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := context.Background()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	n, err := migrations.Down(ctx, pool, 0)
	if err != nil || n != len(all) {
		t.Fatalf("Down = %d, %v; want %d", n, err, len(all))
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
		AND table_name IN ('tasks', 'task_events', 'reminder_schedule', 'outbox', 'idempotency_keys')`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("after Down %d tables remain (%v)", tables, err)
	}
	if n, err := migrations.Up(ctx, pool); err != nil || n != len(all) {
		t.Fatalf("Up = %d, %v", n, err)
	}
	if n, err := migrations.Up(ctx, pool); err != nil || n != 0 {
		t.Fatalf("second Up = %d, %v; want 0", n, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prios := []task.Priority{task.PriorityNone, task.PriorityLow, task.PriorityMedium, task.PriorityHigh}
	var all []task.Task
	for i := range 37 {
		d := task.Draft{
			Title:       fmt.Sprintf("%s task %02d", []string{"alpha", "Beta", "gamma"}[i%3], i),
			Description: []string{"", "buy 50% off milk", "call_me", "50 items, callme"}[i%4],
			Priority:    prios[i%4],
			Tags:        [][]string{{"home"}, {"work"}, {"work", "urgent"}}[i%3],
		}
		if i%5 != 0 {
			due := base.Add(time.Duration(i%7) * 24 * time.Hour) // repeated due dates test the id tie-break
			d.DueDate = &due
		}
		tk := newTask(t, "alice", d, base.Add(time.Duration(i)*time.Minute))
		if i%4 == 1 {
			tk, _, _ = tk.Complete(base)
		}
		if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", base), nil, task.Extras{}); err != nil {
			t.Fatal(err)
		}
		all = append(all, tk)
	}
	other := newTask(t, "bob", task.Draft{Title: "alpha task of bob"}, base)
	if _, err := store.Insert(ctx, other, task.NewEvent(task.EventCreated, other, nil, "", base), nil, task.Extras{}); err != nil {
		t.Fatal(err)
	}

	before := base.Add(3 * 24 * time.Hour)
	tests := []struct {
		name  string
		q     postgres.ListQuery
		keep  func(task.Task) bool
		less  func(a, b task.Task) int
		limit int
	}{
		{name: "newest first", q: postgres.ListQuery{Sort: postgres.SortCreatedAt, Desc: true}, less: func(a, b task.Task) int { return -a.CreatedAt.Compare(b.CreatedAt) }},
		{name: "oldest first", q: postgres.ListQuery{Sort: postgres.SortCreatedAt}, less: func(a, b task.Task) int { return a.CreatedAt.Compare(b.CreatedAt) }},
		{name: "due date asc, undated last", q: postgres.ListQuery{Sort: postgres.SortDueDate}, less: dueCmp(false)},
		{name: "due date desc, undated last", q: postgres.ListQuery{Sort: postgres.SortDueDate, Desc: true}, less: dueCmp(true)},
		{name: "priority desc", q: postgres.ListQuery{Sort: postgres.SortPriority, Desc: true}, less: func(a, b task.Task) int {
			if c := b.Priority.Rank() - a.Priority.Rank(); c != 0 {
				return c
			}
			return -strings.Compare(a.ID.String(), b.ID.String())
		}},
		{name: "title case-insensitive", q: postgres.ListQuery{Sort: postgres.SortTitle}, less: func(a, b task.Task) int {
			return strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		}},
		{name: "open only", q: postgres.ListQuery{Status: postgres.StatusOpen}, keep: func(t task.Task) bool { return !t.Completed }},
		{name: "completed only", q: postgres.ListQuery{Status: postgres.StatusCompleted}, keep: func(t task.Task) bool { return t.Completed }},
		{name: "priority filter", q: postgres.ListQuery{Priorities: []task.Priority{task.PriorityHigh, task.PriorityLow}}, keep: func(t task.Task) bool {
			return t.Priority == task.PriorityHigh || t.Priority == task.PriorityLow
		}},
		{name: "all tags", q: postgres.ListQuery{Tags: []string{"work", "urgent"}}, keep: func(t task.Task) bool { return slices.Contains(t.Tags, "urgent") }},
		{name: "due before", q: postgres.ListQuery{DueBefore: &before}, keep: func(t task.Task) bool { return t.DueDate != nil && t.DueDate.Before(before) }},
		{name: "due after", q: postgres.ListQuery{DueAfter: &before}, keep: func(t task.Task) bool { return t.DueDate != nil && t.DueDate.After(before) }},
		{name: "search is a plain substring", q: postgres.ListQuery{Search: "50%"}, keep: func(t task.Task) bool { return strings.Contains(t.Description, "50%") }},
		{name: "search underscore literal", q: postgres.ListQuery{Search: "L_M"}, keep: func(t task.Task) bool { return strings.Contains(t.Description, "l_m") }},
		{name: "search title case-insensitive", q: postgres.ListQuery{Search: "BETA"}, keep: func(t task.Task) bool { return strings.HasPrefix(t.Title, "Beta") }},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 4, 100} {
			t.Run(fmt.Sprintf("%s/limit=%d", tt.name, limit), func(t *testing.T) {
				want := filter(all, tt.keep)
				if tt.less != nil {
					slices.SortStableFunc(want, func(a, b task.Task) int {
						if c := tt.less(a, b); c != 0 {
							return c
						}
						c := strings.Compare(a.ID.String(), b.ID.String())
						if tt.q.Desc {
							return -c
						}
						return c
					})
				}
				q := tt.q
				q.Limit = limit
				var got []task.Task
				for pages := 0; ; pages++ {
					if pages > len(all)+2 {
						t.Fatal("pagination does not end")
					}
					page, err := store.List(ctx, "alice", q)
					if err != nil {
						t.Fatal(err)
					}
					if len(page.Items) > limit {
						t.Fatalf("page of %d > limit %d", len(page.Items), limit)
					}
					got = append(got, page.Items...)
					if page.Next == nil {
						break
					}
					c, err := postgres.DecodeCursor(page.Next.Encode())
					if err != nil {
						t.Fatal(err)
					}
					q.After = &c
				}
				if tt.less == nil {
					sort.Slice(got, func(i, j int) bool { return got[i].ID.String() < got[j].ID.String() })
					sort.Slice(want, func(i, j int) bool { return want[i].ID.String() < want[j].ID.String() })
				}
				if len(got) != len(want) {
					t.Fatalf("got %d tasks, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i].ID != want[i].ID {
						t.Fatalf("item %d = %q, want %q", i, got[i].Title, want[i].Title)
					}
				}
			})
		}
	}

	t.Run("cursor from another order is refused", func(t *testing.T) {
		page, err := store.List(ctx, "alice", postgres.ListQuery{Sort: postgres.SortTitle, Limit: 2})
		if err != nil || page.Next == nil {
			t.Fatal(err)
		}
		_, err = store.List(ctx, "alice", postgres.ListQuery{Sort: postgres.SortDueDate, Limit: 2, After: page.Next})
		if !errors.Is(err, postgres.ErrBadCursor) {
			t.Fatalf("err = %v", err)
		}
	})
	for _, bad := range []string{"", "!!", "e30", "eyJzIjoiY3JlYXRlZF9hdCJ9"} {
		if _, err := postgres.DecodeCursor(bad); !errors.Is(err, postgres.ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v", bad, err)
		}
	}
}

func dueCmp(desc bool) func(a, b task.Task) int {
	return func(a, b task.Task) int {
		switch {
		case a.DueDate == nil && b.DueDate == nil:
			return 0
		case a.DueDate == nil:
			return 1
		case b.DueDate == nil:
			return -1
		}
		c := a.DueDate.Compare(*b.DueDate)
		if desc {
			return -c
		}
		return c
	}
}

func filter(in []task.Task, keep func(task.Task) bool) []task.Task {
	var out []task.Task
	for _, t := range in {
		if keep == nil || keep(t) {
			out = append(out, t)
		}
	}
	return out
}

func TestOperationItemRecordedWithTheChange(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store, ops := postgres.NewTasks(pool), postgres.NewOperations(pool)
	ctx := context.Background()
	now := time.Now()
	tk := newTask(t, "alice", task.Draft{Title: "instance"}, now)
	if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{}); err != nil {
		t.Fatal(err)
	}
	opID := uuid.Must(uuid.NewV7())
	if err := ops.Create(ctx, postgres.Operation{ID: opID, UserID: "alice", Kind: "series.update", TaskID: tk.ID, Request: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	next, changed, _ := tk.Apply(task.Patch{Title: task.Some("renamed")}, now)
	item := &task.OperationItem{OperationID: opID, Outcome: "updated"}
	if err := store.Update(ctx, next, tk.Version, task.NewEvent(task.EventUpdated, next, changed, "", now), task.Extras{Item: item}); err != nil {
		t.Fatal(err)
	}
	// The step is retried after a crash: the change is already there, so the
	// retry sees "unchanged"; the outcome recorded with the change stands.
	if err := ops.Record(ctx, opID, tk.ID, "unchanged"); err != nil {
		t.Fatal(err)
	}
	if err := ops.Start(ctx, opID, 1); err != nil {
		t.Fatal(err)
	}
	if err := ops.Finish(ctx, opID, ""); err != nil {
		t.Fatal(err)
	}
	op, err := ops.Get(ctx, "alice", opID)
	if err != nil || op.Status != "completed" || op.Done != 1 || string(op.Result) != `{"updated": 1}` {
		t.Fatalf("operation %+v %s (%v)", op, op.Result, err)
	}
	if _, err := ops.Get(ctx, "bob", opID); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("another user's operation: %v", err)
	}
}

func TestFireOnceAtItsTriggerTime(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	due := now.Add(time.Hour)
	tk := newTask(t, "alice", task.Draft{Title: "x", DueDate: &due, ReminderOffset: ptrTo("10m")}, now)
	plan, err := task.PlanAlarms(tk, nil, now, task.PastRefuse)
	if err != nil {
		t.Fatal(err)
	}
	tk.ReminderStatus = task.ReminderStatus(plan.Rows)
	if _, err := store.Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{Alarms: plan.Rows}); err != nil {
		t.Fatal(err)
	}
	rows, err := store.Alarms(ctx, tk.ID)
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %+v %v", rows, err)
	}
	var rem task.Alarm
	for _, r := range rows {
		if r.Type == task.AlarmOffset {
			rem = r
		}
	}
	next := tk.Clone()
	sent := task.AlarmSent
	next.ReminderStatus, next.Version = &sent, tk.Version+1
	fire := task.Fired{Alarm: rem, FiredAt: now, Next: &next, PrevVersion: tk.Version,
		Event: task.NewEvent(task.EventReminderTriggered, next, []string{"reminder_status"}, "", now)}
	if err := store.Fire(ctx, fire); err != nil {
		t.Fatal(err)
	}
	fire.Event = task.NewEvent(task.EventReminderTriggered, next, nil, "", now)
	if err := store.Fire(ctx, fire); !errors.Is(err, task.ErrNotPending) {
		t.Fatalf("second firing: %v, want ErrNotPending", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE task_id = $1 AND payload::text LIKE '%task.reminder.triggered%'`, tk.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d reminder events (%v), want 1", n, err)
	}
	got, _ := store.Get(ctx, tk.ID)
	if *got.ReminderStatus != "sent" || got.Version != 2 || len(got.Reminders) != 1 {
		t.Fatalf("task after firing %+v", got)
	}
}

func ptrTo[T any](v T) *T { return &v }
