package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
)

func TestNotificationsReplay(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewNotifications(pool)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Microsecond)
	var notes []postgres.Notification
	for i := range 6 {
		user := []string{"amy", "ben"}[i%2]
		id := uuid.Must(uuid.NewV7())
		notes = append(notes, postgres.Notification{EventID: id, UserID: user, Type: "task.updated", TaskID: uuid.New(),
			OccurredAt: base.Add(time.Duration(i) * time.Minute), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := store.Save(ctx, notes[:4]); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, notes); err != nil { // a second instance stores the same events: no error, no repeat
		t.Fatal(err)
	}
	// An event no notifier stored (all were down), in the audit log only.
	audited := uuid.Must(uuid.NewV7())
	if _, err := pool.Exec(ctx, `INSERT INTO task_events (event_id, event_type, task_id, user_id, occurred_at, version, payload, partition_key)
		VALUES ($1, 'task.created', gen_random_uuid(), 'amy', $2, 1, '{"n": "audit"}', 'k')`, audited, base.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := store.After(ctx, "amy", notes[0].EventID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, n := range got {
		ids = append(ids, n.EventID)
	}
	want := []uuid.UUID{notes[2].EventID, notes[4].EventID, audited}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("replay %v, want %v", ids, want)
	}
	if string(got[0].Data) != `{"n":2}` {
		t.Fatalf("data %s", got[0].Data)
	}
	// The margin reaches back before the last event seen.
	if got, _ := store.After(ctx, "amy", notes[2].EventID, 3*time.Minute, 10); len(got) != 3 || got[0].EventID != notes[0].EventID {
		t.Fatalf("with margin: %d events", len(got))
	}
	if _, err := store.After(ctx, "ben", notes[0].EventID, 0, 10); !errors.Is(err, postgres.ErrUnknownEvent) {
		t.Fatalf("another user's event: %v", err)
	}
	if _, err := store.After(ctx, "amy", uuid.New(), 0, 10); !errors.Is(err, postgres.ErrUnknownEvent) {
		t.Fatalf("unknown event: %v", err)
	}
	if n, err := store.Purge(ctx, time.Now().Add(time.Hour)); err != nil || n != 6 {
		t.Fatalf("purge %d %v", n, err)
	}
}

// An event held up on its partition is stored long after it occurred, and
// after events that occurred later. A browser that saw one of those later
// events must still get it when it resumes: replay follows the order the
// store took events in, not their occurred_at.
func TestNotificationsReplayFollowsStoreOrder(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewNotifications(pool)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	note := func(occurred time.Time) postgres.Notification {
		id := uuid.Must(uuid.NewV7())
		return postgres.Notification{EventID: id, UserID: "cleo", Type: "task.updated", TaskID: uuid.New(),
			OccurredAt: occurred, Data: []byte(fmt.Sprintf(`{"event_id":%q}`, id))}
	}
	seen := note(now)
	if err := store.Save(ctx, []postgres.Notification{seen}); err != nil {
		t.Fatal(err)
	}
	// Stored after the one the browser saw, but occurred a minute (and an
	// hour) before it.
	late, later := note(now.Add(-time.Minute)), note(now.Add(-time.Hour))
	for _, nt := range []postgres.Notification{late, later} {
		if err := store.Save(ctx, []postgres.Notification{nt}); err != nil {
			t.Fatal(err)
		}
	}
	// And one that only the auditor took (no notifier was running), a day
	// late: its receive time counts, not its occurred_at.
	audited := uuid.Must(uuid.NewV7())
	if _, err := pool.Exec(ctx, `INSERT INTO task_events (event_id, event_type, task_id, user_id, occurred_at, version, payload, partition_key)
		VALUES ($1, 'task.created', gen_random_uuid(), 'cleo', $2, 1, '{"n": "audit"}', 'k')`, audited, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []uuid.UUID{late.EventID, later.EventID, audited}
	for _, margin := range []time.Duration{0, 10 * time.Second} {
		got, err := store.After(ctx, "cleo", seen.EventID, margin, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, nt := range got {
			ids = append(ids, nt.EventID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("margin %s: replay %v, want the late events in the order they were stored %v", margin, ids, want)
		}
	}
	// Resuming after the last of them replays nothing more (the margin
	// repeats what was stored just before it: at least once).
	if got, err := store.After(ctx, "cleo", audited, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("after the audited event: %d events, %v", len(got), err)
	}
	if got, err := store.After(ctx, "cleo", later.EventID, 0, 10); err != nil || len(got) != 1 || got[0].EventID != audited {
		t.Fatalf("after the last stored event: %v, %v", got, err)
	}
}
